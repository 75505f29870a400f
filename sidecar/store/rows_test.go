package store

import (
	stdjson "encoding/json"
	"reflect"
	"testing"
)

// Each table's column buffer holds a row's fields in the order of values and
// of the column list, so a column cannot land under another name.
func TestColBufMatchesValues(t *testing.T) {
	for _, r := range sampleRows() {
		c := newColBuf(r.table())
		c.add(r)
		c.add(r)
		cols, vals := c.columns(), r.values()
		if len(cols) != len(vals) || len(cols) != len(columnsOf[r.table()]) {
			t.Fatalf("%s: %d columns, %d values, %d names", r.table(), len(cols), len(vals), len(columnsOf[r.table()]))
		}
		if c.len() != 2 {
			t.Errorf("%s: len %d, want 2", r.table(), c.len())
		}
		for i, col := range cols {
			v := reflect.ValueOf(col)
			if v.Kind() != reflect.Slice || v.Len() != 2 {
				t.Fatalf("%s.%s: %T of length %d, want a slice of 2", r.table(), columnsOf[r.table()][i], col, v.Len())
			}
			if got := v.Index(1).Interface(); !reflect.DeepEqual(got, vals[i]) {
				t.Errorf("%s.%s: column holds %v, values %v", r.table(), columnsOf[r.table()][i], got, vals[i])
			}
		}
		c.reset()
		for i, col := range c.columns() {
			if n := reflect.ValueOf(col).Len(); n != 0 {
				t.Errorf("%s.%s: %d after reset", r.table(), columnsOf[r.table()][i], n)
			}
		}
	}
}

// A spool record decodes to the rows it was encoded from, for every table, and
// a record written by encoding/json (how spools were written before) decodes
// the same: spooled batches survive an upgrade.
func TestSpoolRecordRoundTrip(t *testing.T) {
	byTable := map[string][]Row{}
	for _, r := range sampleRows() {
		byTable[r.table()] = append(byTable[r.table()], r, r)
	}
	for table, rows := range byTable {
		rec, err := encodeBatch(table, rows)
		if err != nil {
			t.Fatal(err)
		}
		rowsJSON, err := stdjson.Marshal(rows)
		if err != nil {
			t.Fatal(err)
		}
		old, err := stdjson.Marshal(spoolBatch{Table: table, Columns: columnsOf[table], Rows: rowsJSON})
		if err != nil {
			t.Fatal(err)
		}
		for name, rec := range map[string][]byte{"current": rec, "encoding/json": append([]byte{spoolVersion}, old...)} {
			gotTable, got, err := decodeBatch(rec)
			if err != nil {
				t.Fatalf("%s %s: %v", table, name, err)
			}
			if gotTable != table || len(got) != len(rows) {
				t.Fatalf("%s %s: decoded %q with %d rows", table, name, gotTable, len(got))
			}
			for i := range rows {
				if !reflect.DeepEqual(got[i].values(), rows[i].values()) {
					t.Errorf("%s %s row %d:\n got %v\nwant %v", table, name, i, got[i].values(), rows[i].values())
				}
			}
		}
	}
}
