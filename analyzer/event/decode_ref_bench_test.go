package event

// Reference decoders over the same lines as BenchmarkDecode, to put its figures
// in context. They decode only: no validation beyond what each library does.

import (
	"encoding/json"
	"testing"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
	"github.com/valyala/fastjson"
)

func benchRef(b *testing.B, decode func(line []byte) error) {
	lines := realLines(b)
	b.SetBytes(totalBytes(lines))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if err := decode(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkRefEncodingJSON(b *testing.B) {
	benchRef(b, func(l []byte) error {
		var ev Event
		return json.Unmarshal(l, &ev)
	})
}

func BenchmarkRefGoJSON(b *testing.B) {
	benchRef(b, func(l []byte) error {
		var ev Event
		return gojson.Unmarshal(l, &ev)
	})
}

func BenchmarkRefSonic(b *testing.B) {
	benchRef(b, func(l []byte) error {
		var ev Event
		return sonic.Unmarshal(l, &ev)
	})
}

// BenchmarkRefFastjsonParse is the floor under Decode: fastjson parsing alone,
// no field access.
func BenchmarkRefFastjsonParse(b *testing.B) {
	var p fastjson.Parser
	benchRef(b, func(l []byte) error {
		_, err := p.ParseBytes(l)
		return err
	})
}
