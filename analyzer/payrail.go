package analyzer

import "strings"

// Payout rails: how coins left the platform. The contract's methods are bank,
// ewallet, atm, pulsa and crypto (EVENTS.md, payout.method); platforms that
// pay out through a named rail send its name instead, and Philippine
// platforms do so most: the AMLC's studies of online sexual exploitation of
// children find the proceeds collected by e-wallet (GCash, Maya) and cashed
// at remittance centres (Palawan Express Pera Padala, Cebuana Lhuillier,
// M Lhuillier), as ECPAT Indonesia finds e-wallets, phone credit and ATMs.
//
// Every rail but a bank transfer counts as a cash method for the money family
// (money.cash_method_score): the money leaves quickly, to a phone number or a
// counter, with little to trace. A method that names a rail is read case-,
// space- and punctuation-blind ("GCash", "g-cash", "Palawan Express",
// "palawan_express" alike); an unknown method is not a cash method.

// payRail is one named rail.
type payRail struct {
	name  string   // what a moderator reads: "GCash"
	kind  string   // "e-wallet", "remittance centre", "ATM", "phone credit", "crypto"
	alias []string // method values, folded by foldMethod
}

// payRails is append-only: a host's last named rail is kept by its index
// (hostState.payMethods, checkpointed), so an entry's place never changes.
var payRails = []payRail{
	{"GCash", "e-wallet", []string{"gcash"}},
	{"Maya", "e-wallet", []string{"maya", "paymaya"}},
	{"Palawan Express", "remittance centre", []string{"palawan", "palawanexpress", "palawanexpresspadala", "palawanpawnshop", "perapadala"}},
	{"Cebuana Lhuillier", "remittance centre", []string{"cebuana", "cebuanalhuillier"}},
	{"M Lhuillier", "remittance centre", []string{"mlhuillier", "mlkwarta", "mlkwartapadala"}},
	{"LBC", "remittance centre", []string{"lbc", "lbcexpress"}},
	{"Western Union", "remittance centre", []string{"westernunion"}},
	{"MoneyGram", "remittance centre", []string{"moneygram"}},
	{"remittance", "remittance centre", []string{"remittance", "remit", "padala"}},
	{"GrabPay", "e-wallet", []string{"grabpay"}},
	{"Coins.ph", "e-wallet", []string{"coinsph"}},
	{"DANA", "e-wallet", []string{"dana"}},
	{"OVO", "e-wallet", []string{"ovo"}},
	{"GoPay", "e-wallet", []string{"gopay"}},
	{"ShopeePay", "e-wallet", []string{"shopeepay"}},
	{"LinkAja", "e-wallet", []string{"linkaja"}},
}

// Bits of hostState.payMethods: the low bit says a cash method was seen (the
// only bit before named rails); the upper seven hold 1 + the index in
// payRails of the last named rail, 0 for none.
const (
	payCash      uint8 = 1
	payRailShift       = 1
)

var payRailIndex = func() map[string]int {
	m := map[string]int{}
	for i, r := range payRails {
		for _, a := range r.alias {
			m[a] = i
		}
	}
	if len(payRails) >= 1<<(8-payRailShift) {
		panic("analyzer: too many payout rails for payMethods")
	}
	return m
}()

// foldMethod lower-cases a method and drops everything but letters and digits.
func foldMethod(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case 'A' <= r && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		}
	}
	return b.String()
}

// payMethodBits is what a payout's method adds to hostState.payMethods: the
// cash bit for the contract's atm, ewallet, pulsa and crypto and for every
// named rail, and the rail's index. A bank transfer or an unknown method adds
// nothing.
func payMethodBits(method string) (cash bool, rail int) {
	switch method {
	case "":
		return false, -1
	case "atm", "ewallet", "pulsa", "crypto":
		return true, -1
	}
	f := foldMethod(method)
	switch f {
	case "atm", "ewallet", "pulsa", "crypto":
		return true, -1
	}
	if i, ok := payRailIndex[f]; ok {
		return true, i
	}
	return false, -1
}

// addPayMethod folds one payout's method into a host's payMethods.
func addPayMethod(bits uint8, method string) uint8 {
	cash, rail := payMethodBits(method)
	if cash {
		bits |= payCash
	}
	if rail >= 0 {
		bits = bits&payCash | uint8(rail+1)<<payRailShift
	}
	return bits
}

// lastPayRail is the host's last named rail, nil for none.
func lastPayRail(bits uint8) *payRail {
	i := int(bits>>payRailShift) - 1
	if i < 0 || i >= len(payRails) {
		return nil
	}
	return &payRails[i]
}
