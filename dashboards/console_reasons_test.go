package dashboards

import (
	"regexp"
	"slices"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/store"
)

// The dismiss field offers exactly the reasons the aggregates keep by name,
// so a moderator who picks from the list is counted under that name and not
// as "other".
func TestConsoleDismissReasonsAreTheStoresList(t *testing.T) {
	t.Parallel()
	b, err := consoleFiles.ReadFile("console/index.html")
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?s)<datalist id="dismiss-reasons">(.*?)</datalist>`).FindSubmatch(b)
	if list == nil {
		t.Fatal("index.html has no datalist dismiss-reasons")
	}
	if !regexp.MustCompile(`<input id="in-dismiss"[^>]*list="dismiss-reasons"`).Match(b) {
		t.Error("the dismiss field does not name the dismiss-reasons list")
	}
	var got []string
	for _, m := range regexp.MustCompile(`<option value="([^"]*)">`).FindAllSubmatch(list[1], -1) {
		got = append(got, string(m[1]))
	}
	if !slices.Equal(got, store.DismissReasons) {
		t.Errorf("datalist %q, store.DismissReasons %q", got, store.DismissReasons)
	}
}
