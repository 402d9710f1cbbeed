package shopdb

import (
	"slices"
	"testing"
)

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {100, 128}, {128, 128}, {129, 256}, {maxChunk, maxChunk}} {
		if got := sizeClass(c.n); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	classes := map[int]bool{}
	for n := 1; n <= maxChunk; n++ {
		classes[sizeClass(n)] = true
	}
	if len(classes) != 9 {
		t.Errorf("%d size classes up to %d keys, want 9 (1, 2, 4, ..., 256)", len(classes), maxChunk)
	}
}

func TestPadded(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"7"}, []string{"7"}},
		{[]string{"7", "8"}, []string{"7", "8"}},
		{[]string{"7", "8", "9"}, []string{"7", "8", "9", "9"}},
		{[]string{"1", "2", "3", "4", "5"}, []string{"1", "2", "3", "4", "5", "5", "5", "5"}},
	} {
		if got := padded(c.in); !slices.Equal(got, c.want) {
			t.Errorf("padded(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	in := []string{"1", "2", "3"}
	padded(in)
	if !slices.Equal(in, []string{"1", "2", "3"}) {
		t.Errorf("padded changed its argument: %q", in)
	}
}

func TestDistinct(t *testing.T) {
	if got, want := distinct([]string{"3", "1", "3", "2", "1"}), []string{"3", "1", "2"}; !slices.Equal(got, want) {
		t.Errorf("distinct = %q, want %q", got, want)
	}
}
