package text

import (
	"slices"
	"testing"
)

func TestAgeCues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text  string
		cue   string // "" for no cue at all
		minor bool
	}{
		// Statements: minor.
		{"kelas 11", "school_grade", true},
		{"aku kelas 2 SMA", "school_grade", true},
		{"kelas XI IPA", "school_grade", true},
		{"grade 10 na ako", "school_grade", true},
		{"I'm in 10th grade", "school_grade", true},
		{"aku masih sekolah", "in_school", true},
		{"baru pulang sekolah nih", "in_school", true},
		{"still in school lol", "in_school", true},
		{"anak SMP", "school_level", true},
		{"aku SMA", "school_level", true},
		{"baru lulus SMP", "school_level", true},
		{"I'm in high school", "school_level", true},
		{"pelajar", "student", true},
		{"aku siswi kelas 9", "student", true},
		{"16 tahun", "age_stated", true},
		{"umur 15", "age_stated", true},
		{"umurku 15", "age_stated", true},
		{"usia aku 16", "age_stated", true},
		{"I'm 15", "age_stated", true},
		{"i am 15 years old", "age_stated", true},
		{"16yo", "age_stated", true},
		{"15 y/o", "age_stated", true},
		{"15y/o", "age_stated", true},
		{"15 na ako", "age_stated", true},
		{"aku abg", "teen_word", true},
		{"masih remaja", "teen_word", true},
		{"belum punya KTP", "teen_word", true},
		{"underage", "teen_word", true},

		// Questions: age_question, not minor.
		{"umur berapa", "age_question", false},
		{"berapa umurmu dek?", "age_question", false},
		{"how old are you", "age_question", false},
		{"kelas berapa?", "age_question", false},
		{"masih sekolah?", "age_question", false},
		{"masih sekolah ya?", "age_question", false},
		{"kamu masih sekolah ya", "age_question", false},
		{"kamu 15 tahun?", "age_question", false},
		{"sekolah dimana?", "age_question", false},
		{"ilang taon ka na?", "age_question", false},

		// Lookalikes: nothing.
		{"min SMA", "", false},
		{"lulusan SMA/SMK", "", false},
		{"guru SMA", "", false},
		{"jaman SMA dulu", "", false},
		{"kerja 16 tahun", "", false},
		{"sudah 16 tahun menikah", "", false},
		{"16 tahun yang lalu", "", false},
		{"umur 25", "", false},
		{"aku 25 tahun", "", false},
		{"usia 16-20", "", false},
		{"Syarat usia 18-35, min SMA.", "", false},
		{"mahasiswi semester 5", "", false},
		{"kelas make up online", "", false},
		{"jam 10 live", "", false},
		{"aku 2 jam lagi live", "", false},
		{"16 s/d 20", "", false},
		{"selamat tahun baru", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			cues, minor := AgeCues(tc.text)
			if minor != tc.minor {
				t.Errorf("AgeCues(%q) minor = %v, want %v (cues %v)", tc.text, minor, tc.minor, cues)
			}
			if tc.cue == "" {
				if len(cues) != 0 {
					t.Errorf("AgeCues(%q) = %v, want none", tc.text, cues)
				}
				return
			}
			if !slices.Contains(cues, tc.cue) {
				t.Errorf("AgeCues(%q) = %v, want %q", tc.text, cues, tc.cue)
			}
			if !tc.minor && slices.ContainsFunc(cues, func(c string) bool { return c != "age_question" }) {
				t.Errorf("AgeCues(%q) = %v: a question reports only age_question", tc.text, cues)
			}
		})
	}
}
