package classify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Label is one answer of the classifier.
type Label struct {
	Label string
	Score float64
}

// ErrAnswer wraps every refusal of an answer.
var ErrAnswer = errors.New("bad classifier answer")

// DecodeAnswer decodes an answer strictly: one JSON object with exactly the
// key "labels" (once, exact case), an array of at most MaxLabels objects
// with exactly the keys "label" (1..64 bytes of a-z, 0-9, '_', '-', '.') and
// "score" (a number 0..1), each once; no label twice; nothing after the
// object.
func DecodeAnswer(body []byte) ([]Label, error) {
	p := parser{dec: json.NewDecoder(bytes.NewReader(body))}
	p.dec.UseNumber()
	ls, err := p.answer()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAnswer, err)
	}
	return ls, nil
}

type parser struct{ dec *json.Decoder }

func (p *parser) delim(want json.Delim) error {
	t, err := p.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %v", want)
	}
	return nil
}

func (p *parser) answer() ([]Label, error) {
	if err := p.delim('{'); err != nil {
		return nil, err
	}
	var ls []Label
	seen := false
	for p.dec.More() {
		k, err := p.dec.Token()
		if err != nil {
			return nil, err
		}
		if k != "labels" || seen {
			return nil, fmt.Errorf("unexpected key %.20q", fmt.Sprint(k))
		}
		seen = true
		if ls, err = p.labels(); err != nil {
			return nil, err
		}
	}
	if err := p.delim('}'); err != nil {
		return nil, err
	}
	if !seen {
		return nil, errors.New("labels is required")
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return ls, nil
}

func (p *parser) labels() ([]Label, error) {
	if err := p.delim('['); err != nil {
		return nil, err
	}
	ls := []Label{}
	names := map[string]bool{}
	for p.dec.More() {
		if len(ls) == MaxLabels {
			return nil, fmt.Errorf("more than %d labels", MaxLabels)
		}
		l, err := p.label()
		if err != nil {
			return nil, fmt.Errorf("labels[%d]: %v", len(ls), err)
		}
		if names[l.Label] {
			return nil, fmt.Errorf("labels[%d]: label %s given twice", len(ls), l.Label)
		}
		names[l.Label] = true
		ls = append(ls, l)
	}
	return ls, p.delim(']')
}

func (p *parser) label() (Label, error) {
	var l Label
	if err := p.delim('{'); err != nil {
		return l, err
	}
	var hasLabel, hasScore bool
	for p.dec.More() {
		k, err := p.dec.Token()
		if err != nil {
			return l, err
		}
		v, err := p.dec.Token()
		if err != nil {
			return l, err
		}
		switch {
		case k == "label" && !hasLabel:
			s, ok := v.(string)
			if !ok {
				return l, errors.New("label must be a string")
			}
			if err := checkLabel(s); err != nil {
				return l, err
			}
			l.Label, hasLabel = s, true
		case k == "score" && !hasScore:
			n, ok := v.(json.Number)
			if !ok {
				return l, errors.New("score must be a number")
			}
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil || f < 0 || f > 1 {
				return l, errors.New("score must be a number between 0 and 1")
			}
			l.Score, hasScore = f, true
		default:
			return l, fmt.Errorf("unexpected key %.20q", fmt.Sprint(k))
		}
	}
	if !hasLabel || !hasScore {
		return l, errors.New("label and score are required")
	}
	return l, p.delim('}')
}

func checkLabel(s string) error {
	if s == "" || len(s) > MaxLabelBytes {
		return fmt.Errorf("label must be 1 to %d bytes", MaxLabelBytes)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("label has a byte 0x%02x outside a-z 0-9 _ - .", c)
		}
	}
	return nil
}
