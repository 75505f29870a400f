package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/replay"
	"github.com/ronda-watch/ronda/sidecar/simulate"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// Benchmarks against the package's shared real server:
//
//	go test -run '^$' -bench BenchmarkWriterVsClient -benchtime 1x -count 3 ./sidecar/store/
//	go test -run '^$' -bench BenchmarkReplayIntoClickHouse -benchtime 1x -count 3 ./sidecar/store/
//
// BenchmarkWriterVsClient inserts the same rows, side by side in one run, through
// the Writer and through clickhouse-client (JSONEachRow, TabSeparated and Native
// on stdin), each into a freshly migrated database (same tables, same
// materialized views, so the same work), and reports rows/s for each and the
// ratios of the Writer to the fastest client path, to JSONEachRow and to
// Native (what clickhouse-client sends when it has the columns already).

const benchRows = 200_000

var eventTypeMix = []struct {
	typ    string
	weight int
}{{"gift", 60}, {"stream_start", 8}, {"stream_end", 8}, {"post", 8}, {"payout", 6}, {"signal", 6}, {"link", 4}}

// benchEventRows returns n event rows, deterministic, in event-time order over
// 14 days, with the columns each event type fills.
func benchEventRows(n int) []EventRow {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	step := 14 * 24 * time.Hour / time.Duration(n)
	ing := time.Date(2025, 6, 20, 12, 0, 0, 0, time.UTC)
	gifts := []string{"rose", "heart", "lion", "castle", "finger_heart", "galaxy"}
	countries := []string{"ID", "ID", "ID", "PH", "US", "AU", "DE", "JP", "SG"}
	zones := []string{"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Asia/Manila"}
	const b32 = "0123456789bcdefghjkmnpqrstuvwxyz"
	total := 0
	for _, m := range eventTypeMix {
		total += m.weight
	}
	rows := make([]EventRow, n)
	for i := range rows {
		at := start.Add(time.Duration(i) * step)
		k, typ := rng.IntN(total), ""
		for _, m := range eventTypeMix {
			if k < m.weight {
				typ = m.typ
				break
			}
			k -= m.weight
		}
		host := rng.IntN(340)
		r := EventRow{Day: dayOf(at), At: second(at), ID: fmt.Sprintf("ev-%08d", i), Type: typ,
			Node: "ingest-" + strconv.Itoa(i%4), StreamID: fmt.Sprintf("st-%04d-%05d", host, i/2000),
			HostID: fmt.Sprintf("host-%04d", host), AccountID: fmt.Sprintf("acct-%05d", host*3+rng.IntN(3)),
			Ingested: ing}
		switch typ {
		case "gift":
			r.Counterpart = fmt.Sprintf("%016x", rng.Uint64())
			r.Coins = int64(1 + rng.IntN(5000))
			r.Kind = gifts[rng.IntN(len(gifts))]
			r.Country = countries[rng.IntN(len(countries))]
		case "stream_start":
			r.DeviceID = fmt.Sprintf("dev-%05d", host+rng.IntN(2))
			cell := []byte("qqguw")
			for j := 0; j < 2; j++ {
				cell = append(cell, b32[rng.IntN(32)])
			}
			r.Cell = string(cell)
			r.Network = fmt.Sprintf("36.%d.%d.0/24", 64+rng.IntN(64), rng.IntN(256))
			r.TZ = zones[host%len(zones)]
			if rng.IntN(10) == 0 {
				r.Counterpart = fmt.Sprintf("agency-%03d", rng.IntN(40))
			}
		case "stream_end":
			r.Kind = "ended"
		case "post":
			r.Kind = []string{"ad", "bio", "dm", "status"}[rng.IntN(4)]
			r.Counterpart = fmt.Sprintf("acct-%05d", rng.IntN(1020))
		case "payout":
			r.Counterpart = fmt.Sprintf("bene-%04d", rng.IntN(200))
			r.Amount = float64(rng.IntN(5_000_000)) / 100
			r.Currency, r.Method, r.Kind = "IDR", []string{"ewallet", "bank", "cash_agent"}[rng.IntN(3)], "weekly"
		case "signal":
			r.Kind = []string{"nudity", "minor", "hash_match"}[rng.IntN(3)]
			r.Score = float64(rng.IntN(1000)) / 1000
		case "link":
			r.Counterpart = fmt.Sprintf("acct-%05d", rng.IntN(1020))
			r.Kind = []string{"agency", "family", "manager"}[rng.IntN(3)]
		}
		rows[i] = r
	}
	return rows
}

// jsonEachRow encodes rows as ClickHouse JSONEachRow that 18.16 reads: Date
// and DateTime as text, not RFC 3339.
func jsonEachRow(rows []EventRow) []byte {
	type jrow struct {
		EventRow
		Day      string `json:"day"`
		At       string `json:"at"`
		Ingested string `json:"ingested"`
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range rows {
		r := &rows[i]
		if err := enc.Encode(jrow{EventRow: *r, Day: r.Day.Format(time.DateOnly),
			At: r.At.Format(time.DateTime), Ingested: r.Ingested.Format(time.DateTime)}); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

// clickhouseClient runs clickhouse-client against s with stdin and stdout.
func clickhouseClient(s *chtest.Server, query string, stdin io.Reader, stdout io.Writer) error {
	_, err := clickhouseClientCPU(s, query, stdin, stdout)
	return err
}

// clickhouseClientCPU runs clickhouse-client and returns the CPU time it used.
func clickhouseClientCPU(s *chtest.Server, query string, stdin io.Reader, stdout io.Writer) (time.Duration, error) {
	bin, err := exec.LookPath("clickhouse-client")
	var args []string
	if err != nil {
		p, err2 := exec.LookPath("clickhouse")
		if err2 != nil {
			return 0, errors.New("clickhouse-client not installed")
		}
		bin, args = p, []string{"client"}
	}
	args = append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(s.NativePort()), "--query", query)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &errb
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("clickhouse-client %q: %w: %s", query, err, strings.TrimSpace(errb.String()))
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

func mustQuery(tb testing.TB, s *chtest.Server, q string) string {
	tb.Helper()
	out, err := s.Client(q)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// freshSchema migrates a new database on s.
func freshSchema(tb testing.TB, s *chtest.Server) Options {
	tb.Helper()
	conn := connect(tb, s)
	o := Options{Database: freshDB(tb)}
	if _, err := Migrate(ctxT(tb), conn, o); err != nil {
		tb.Fatal(err)
	}
	return o
}

// tableDigest identifies a table's content: rows and an order-independent hash
// of every column.
func tableDigest(tb testing.TB, s *chtest.Server, o Options) string {
	return mustQuery(tb, s, fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM %s FINAL",
		strings.Join(quoteAll(EventColumns), ", "), o.Qualified(TableEvents)))
}

func BenchmarkWriterVsClient(b *testing.B) {
	s := sharedServer(b)
	rows := benchEventRows(benchRows)
	jsonIn := jsonEachRow(rows)
	cols := strings.Join(quoteAll(EventColumns), ", ")
	meter, metered := newCPUMeter(s)
	b.ResetTimer()
	var tWriter, tJSON, tTSV, tNative time.Duration
	var cpuWriter, cpuNative time.Duration // this process or the client, plus the server
	var srvWriter, srvNative time.Duration // the server's share
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// (a) the Writer: default BatchRows (50,000), native protocol, LZ4.
		ow := freshSchema(b, s)
		w, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: ow, Block: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		self0, server0 := meter.self(), meter.server()
		go w.Run(context.Background())
		for j := range rows {
			w.add(&rows[j])
		}
		if err := w.Close(ctxT(b)); err != nil {
			b.Fatal(err)
		}
		tWriter += time.Since(start)
		srvWriter += meter.server() - server0
		cpuWriter += meter.self() - self0 + meter.server() - server0
		b.StopTimer()
		if w.Spooled() != 0 {
			b.Fatalf("writer spooled %d batches", w.Spooled())
		}
		want := tableDigest(b, s, ow)
		if !strings.HasPrefix(want, strconv.Itoa(benchRows)+"\t") {
			b.Fatalf("writer: %s rows, want %d", want, benchRows)
		}
		// The client's inputs, prepared outside the timing: the same rows read
		// back as TabSeparated and Native.
		var tsvIn, nativeIn bytes.Buffer
		sel := fmt.Sprintf("SELECT %s FROM %s FINAL ORDER BY id", cols, ow.Qualified(TableEvents))
		if err := clickhouseClient(s, sel+" FORMAT TabSeparated", nil, &tsvIn); err != nil {
			b.Fatal(err)
		}
		if err := clickhouseClient(s, sel+" FORMAT Native", nil, &nativeIn); err != nil {
			b.Fatal(err)
		}
		// Dropped before the client runs, so its background merges take no CPU from them.
		mustQuery(b, s, "DROP DATABASE "+quoteIdent(ow.Database))

		// (b) clickhouse-client, one process per format, the rows on stdin.
		for _, c := range []struct {
			format string
			in     []byte
			total  *time.Duration
		}{{"JSONEachRow", jsonIn, &tJSON}, {"TabSeparated", tsvIn.Bytes(), &tTSV}, {"Native", nativeIn.Bytes(), &tNative}} {
			oc := freshSchema(b, s)
			q := fmt.Sprintf("INSERT INTO %s (%s) FORMAT %s", oc.Qualified(TableEvents), cols, c.format)
			b.StartTimer()
			start := time.Now()
			server0 := meter.server()
			cpu, err := clickhouseClientCPU(s, q, bytes.NewReader(c.in), io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			*c.total += time.Since(start)
			if c.format == "Native" {
				srvNative += meter.server() - server0
				cpuNative += cpu + meter.server() - server0
			}
			b.StopTimer()
			if got := tableDigest(b, s, oc); got != want {
				b.Fatalf("client %s: table digest %s, want the writer's %s", c.format, got, want)
			}
			mustQuery(b, s, "DROP DATABASE "+quoteIdent(oc.Database))
		}
		b.StartTimer()
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(benchRows) * float64(b.N) / d.Seconds() }
	best := max(rate(tJSON), rate(tTSV), rate(tNative))
	b.ReportMetric(rate(tWriter), "writer_rows/s")
	b.ReportMetric(rate(tJSON), "client_json_rows/s")
	b.ReportMetric(rate(tTSV), "client_tsv_rows/s")
	b.ReportMetric(rate(tNative), "client_native_rows/s")
	b.ReportMetric(rate(tWriter)/best, "writer/best_client")
	b.ReportMetric(rate(tWriter)/rate(tJSON), "writer/client_json")
	b.ReportMetric(rate(tWriter)/rate(tNative), "writer/client_native")
	if metered {
		// CPU per row of each path, the server's included: the writer's and
		// the Native client's. A ratio below 1: the writer costs less.
		perRow := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(benchRows*b.N) }
		b.ReportMetric(perRow(cpuWriter), "writer_cpu_ns/row")
		b.ReportMetric(perRow(cpuNative), "client_native_cpu_ns/row")
		b.ReportMetric(perRow(srvWriter), "writer_server_cpu_ns/row")
		b.ReportMetric(perRow(srvNative), "client_native_server_cpu_ns/row")
		b.ReportMetric(float64(cpuWriter)/float64(cpuNative), "writer_cpu/client_native_cpu")
	}
	b.ReportMetric(0, "ns/op") // the sum of four paths; the rates above are the figures
}

// sharedScenario finds ../shared/scenarios/name relative to the go.mod
// directory, or under $RONDA_SHARED.
func sharedScenario(name string) (string, error) {
	shared := os.Getenv("RONDA_SHARED")
	if shared == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				shared = filepath.Join(dir, "..", "shared")
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return "", errors.New("no go.mod above the working directory")
			}
			dir = parent
		}
	}
	p := filepath.Join(shared, "scenarios", name, "events.ndjson.gz")
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

var simWorld struct {
	once sync.Once
	path string
	err  error
}

// simulatedWorld writes a 14-day world of Ronda's simulator about the size of
// public-twoweeks, once per process.
func simulatedWorld(b *testing.B) string {
	simWorld.once.Do(func() {
		// Beside the shared server's data: TestMain removes that directory.
		simWorld.path = filepath.Join(sharedServer(b).Dir(), "bench-world.ndjson")
		f, err := os.Create(simWorld.path)
		if err != nil {
			simWorld.err = err
			return
		}
		_, _, err = simulate.WriteNDJSON(context.Background(), simulate.Options{Seed: 14, Days: 14, Hosts: 300, Rings: 3}, f, false)
		simWorld.err = errors.Join(err, f.Close())
	})
	if simWorld.err != nil {
		b.Fatal(simWorld.err)
	}
	return simWorld.path
}

// BenchmarkReplayIntoClickHouse replays an event file through replay.Run with
// the ClickHouse writer wired as `ronda replay --clickhouse` wires it
// (StartWriter, Options.Record), into a fresh database each time, and reports events/s from
// the start (migration included) until Close has written every row.
func BenchmarkReplayIntoClickHouse(b *testing.B) {
	b.Run("public-twoweeks", func(b *testing.B) {
		p, err := sharedScenario("public-twoweeks")
		if err != nil {
			b.Skipf("SKIPPED: public-twoweeks not available (../shared/scenarios beside the module, or RONDA_SHARED): %v", err)
		}
		benchReplayInto(b, p)
	})
	b.Run("simulated-14d", func(b *testing.B) { benchReplayInto(b, simulatedWorld(b)) })
}

func benchReplayInto(b *testing.B, path string) {
	s := sharedServer(b)
	var events uint64
	var rows int
	var total time.Duration
	var diskBytes float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db := freshDB(b)
		o := replay.Options{In: path, Config: analyzer.DefaultConfig()}
		start := time.Now()
		w, err := StartWriter(ctxT(b), StartConfig{DSN: s.DSN(), Database: db})
		if err != nil {
			b.Fatal(err)
		}
		o.Record(w)
		sum, err := replay.Run(ctxT(b), o)
		if cerr := w.Close(ctxT(b)); err == nil {
			err = cerr
		}
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if w.Spooled() != 0 {
			b.Fatalf("%d batches spooled", w.Spooled())
		}
		events += sum.Events
		n, _ := strconv.Atoi(mustQuery(b, s, "SELECT count() FROM "+quoteIdent(db)+".events FINAL"))
		rows += n
		// What the record takes on ClickHouse's disk (compressed, every
		// table and trend view, before merges settle), per input event.
		disk, _ := strconv.ParseFloat(mustQuery(b, s, "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '"+db+"'"), 64)
		diskBytes += disk
		mustQuery(b, s, "DROP DATABASE "+quoteIdent(db))
		b.StartTimer()
	}
	b.ReportMetric(float64(events)/total.Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
	b.ReportMetric(float64(rows)/float64(b.N), "event_rows/op")
	b.ReportMetric(diskBytes/float64(events), "ch-disk-B/event")
}

// BenchmarkSpoolRecord: encoding and decoding one spool record of 50,000 event
// rows (the default batch), which is the writer's whole cost per batch while
// ClickHouse is away or not configured.
func BenchmarkSpoolRecord(b *testing.B) {
	now := time.Date(2026, 11, 2, 21, 4, 5, 123456789, time.UTC)
	batch := make([]Row, 50_000)
	for i := range batch {
		batch[i] = &EventRow{Day: now.Truncate(24 * time.Hour), At: now.Add(time.Duration(i) * time.Second),
			ID: fmt.Sprintf("ev-%08d", i), Type: "gift", Node: "edge-1", StreamID: fmt.Sprintf("s-%d", i%300),
			HostID: fmt.Sprintf("h-%d", i%150), Counterpart: "3f2a9c0d1e4b5a6c", Coins: int64(i%500 + 1),
			Country: "ID", DeviceID: "d-1", Cell: "qqguwn7", Network: "120.123.44.0/24", TZ: "Asia/Jakarta",
			Viewers: 12, Ingested: now}
	}
	rec, err := encodeBatch(TableEvents, batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if _, err := encodeBatch(TableEvents, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if _, _, err := decodeBatch(rec); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkSpoolPerEvent: what an outage of ClickHouse costs in spool disk.
// A world is replayed with the record spool-only (every batch spooled, as
// while the breaker is open), at `ronda serve`'s batch size, and the spool's
// bytes on disk are reported per input event and per spooled row, beside the
// rows per event (heartbeats and chat are not kept; signals, sessions and
// alert versions are added).
func BenchmarkSpoolPerEvent(b *testing.B) {
	b.Run("public-twoweeks", func(b *testing.B) {
		p, err := sharedScenario("public-twoweeks")
		if err != nil {
			b.Skipf("SKIPPED: public-twoweeks not available (../shared/scenarios beside the module, or RONDA_SHARED): %v", err)
		}
		benchSpoolPerEvent(b, p)
	})
	b.Run("simulated-14d", func(b *testing.B) { benchSpoolPerEvent(b, simulatedWorld(b)) })
}

func benchSpoolPerEvent(b *testing.B, path string) {
	var events, rows, spoolBytes float64
	for b.Loop() {
		dir := b.TempDir()
		o := replay.Options{In: path, Config: analyzer.DefaultConfig()}
		var w *Writer
		w, err := StartWriter(ctxT(b), StartConfig{DSN: "clickhouse://127.0.0.1:1/ronda?dial_timeout=100ms", SpoolDir: dir,
			Writer: func(wo *WriterOptions) { wo.DSN, wo.BatchRows = "", 10_000 }})
		if err != nil {
			b.Fatal(err)
		}
		o.Record(w)
		sum, err := replay.Run(ctxT(b), o)
		if cerr := w.Close(ctxT(b)); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
		events += float64(sum.Events)
		for _, t := range []string{TableEvents, TableSignals, TableSessions, TableAlerts, TableActions} {
			rows += testutil.ToFloat64(w.m.spooled.WithLabelValues(t))
		}
		if d := droppedRows(b, w); d != 0 {
			b.Fatalf("%v rows dropped", d)
		}
		err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err == nil {
				spoolBytes += float64(fi.Size())
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(spoolBytes/events, "spool-B/event")
	b.ReportMetric(spoolBytes/rows, "spool-B/row")
	b.ReportMetric(rows/events, "rows/event")
	b.ReportMetric(events/float64(b.N), "events/op")
}
