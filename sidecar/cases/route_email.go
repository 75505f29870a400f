package cases

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"path/filepath"
	"strings"
	"time"
)

// EmailRoute addresses a case to a national hotline's address (Indonesia's
// aduan, the Philippines' CICC): it writes an RFC 5322 message, a short text
// and the case JSON attached, as <outbox>/<key>.eml. Ronda speaks no SMTP:
// the host's mail system (a sendmail spool, a script of the hotline's) sends
// what lands in the outbox. Written atomically; a key already there was
// delivered.
type EmailRoute struct {
	RouteName string
	To        string
	From      string
	Outbox    string
	Now       func() time.Time
}

// Name is the route's name.
func (r *EmailRoute) Name() string { return r.RouteName }

// Kind is "email".
func (r *EmailRoute) Kind() string { return "email" }

// Send writes the message once.
func (r *EmailRoute) Send(_ context.Context, d Delivery) (string, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	c := d.Case
	hosts, accounts := 0, 0
	for _, a := range c.Accounts {
		if a.Kind == "host" {
			hosts++
		} else {
			accounts++
		}
	}
	text := fmt.Sprintf("Report %s (case %s, version %d), severity %s.\r\n"+
		"%d reported hosts, %d accounts, %d streams, %d network prefixes, %d devices, %d payouts.\r\n"+
		"Approved by %s. The case file is attached as JSON; times are UTC.\r\n",
		d.Key, c.ID, c.Version, c.Severity, hosts, accounts, len(c.Streams), len(c.Networks), len(c.Devices), len(c.Payouts),
		approver(c))
	for _, rs := range c.Reasons {
		text += "- " + rs.Summary + "\r\n"
	}
	p, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"8bit"}})
	if err != nil {
		return "", err
	}
	p.Write([]byte(text))
	p, err = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"},
		"Content-Disposition": {mime.FormatMediaType("attachment", map[string]string{"filename": d.Key + ".json"})}})
	if err != nil {
		return "", err
	}
	p.Write(d.Body)
	mw.Close()
	var msg bytes.Buffer
	for _, h := range [][2]string{
		{"From", r.From}, {"To", r.To}, {"Date", now().UTC().Format(time.RFC1123Z)},
		{"Subject", mime.QEncoding.Encode("utf-8", "Ronda report "+d.Key)},
		{"Message-ID", "<" + d.Key + "@ronda>"}, {"MIME-Version", "1.0"},
		{"Content-Type", "multipart/mixed; boundary=" + mw.Boundary()},
	} {
		msg.WriteString(h[0] + ": " + strings.NewReplacer("\r", "", "\n", "").Replace(h[1]) + "\r\n")
	}
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	name := filepath.Join(r.Outbox, d.Key+".eml")
	return name, writeOnce(name, msg.Bytes())
}

func approver(c *Case) string {
	if c.Approval == nil {
		return "nobody"
	}
	return c.Approval.By
}
