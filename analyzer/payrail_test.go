package analyzer

import "testing"

func TestPayMethodBits(t *testing.T) {
	for _, c := range []struct {
		method string
		cash   bool
		rail   string
	}{
		{"", false, ""},
		{"bank", false, ""},
		{"Bank", false, ""},
		{"atm", true, ""},
		{"ewallet", true, ""},
		{"e-wallet", true, ""},
		{"PULSA", true, ""},
		{"crypto", true, ""},
		{"GCash", true, "GCash"},
		{"g-cash", true, "GCash"},
		{"PayMaya", true, "Maya"},
		{"maya", true, "Maya"},
		{"Palawan Express", true, "Palawan Express"},
		{"palawan_express", true, "Palawan Express"},
		{"Pera Padala", true, "Palawan Express"},
		{"Cebuana Lhuillier", true, "Cebuana Lhuillier"},
		{"cebuana", true, "Cebuana Lhuillier"},
		{"M Lhuillier", true, "M Lhuillier"},
		{"M-Lhuillier", true, "M Lhuillier"},
		{"ML Kwarta Padala", true, "M Lhuillier"},
		{"remittance", true, "remittance"},
		{"DANA", true, "DANA"},
		{"cheque", false, ""},
		{"gcashx", false, ""},
	} {
		bits := addPayMethod(0, c.method)
		if got := bits&payCash != 0; got != c.cash {
			t.Errorf("%q: cash %v, want %v", c.method, got, c.cash)
		}
		name := ""
		if r := lastPayRail(bits); r != nil {
			name = r.name
		}
		if name != c.rail {
			t.Errorf("%q: rail %q, want %q", c.method, name, c.rail)
		}
	}
	// The last named rail wins; the cash bit stays; a bank payout changes nothing.
	b := addPayMethod(addPayMethod(addPayMethod(0, "gcash"), "Cebuana Lhuillier"), "bank")
	if r := lastPayRail(b); r == nil || r.name != "Cebuana Lhuillier" || b&payCash == 0 {
		t.Errorf("bits %08b: want Cebuana Lhuillier with the cash bit", b)
	}
	// A checkpoint from before named rails holds 0 or 1: no rail.
	if lastPayRail(1) != nil || lastPayRail(0) != nil || lastPayRail(0xff) != nil {
		t.Error("old or corrupt bits name a rail")
	}
}
