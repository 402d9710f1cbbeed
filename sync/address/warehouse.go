package address

import (
	"math"
	"strconv"
)

// Site is a warehouse as routing sees it: the provinces it serves (any spelling Province
// accepts) and where it is: Lat/Lon (degrees) when HasCoord is set, else the capital of its own
// Province. HasCoord exists because 0,0 is a real position, so a zero Lat/Lon cannot mean unset.
type Site struct {
	Name     string
	Serves   []string
	Province string
	Lat, Lon float64
	HasCoord bool
}

// Choice is a chosen warehouse, as an index into the sites given to Choose, and why it was
// chosen, for logs and the status page: "serves 广东省", "nearest (1,203 km)", "default".
type Choice struct {
	Index int
	Why   string
}

// Choose picks the warehouse for a receiver's province: the first site that serves it; else
// the site nearest to the province's capital (sites without a known position are skipped; of
// equally near sites the first wins); else def, the index of the default warehouse, returned as
// given. An unknown receiver province goes to def: it has no capital to measure from, and a
// site listing the same unknown text would match by accident of spelling, not by geography.
func Choose(sites []Site, receiverProvince string, def int) Choice {
	lat, lon, ok := Capital(receiverProvince)
	if !ok {
		return Choice{Index: def, Why: "default"}
	}
	want := Province(receiverProvince)
	for i, s := range sites {
		for _, p := range s.Serves {
			if Province(p) == want {
				return Choice{Index: i, Why: "serves " + want}
			}
		}
	}
	best, bestKm := -1, math.Inf(1)
	for i, s := range sites {
		sLat, sLon, ok := sitePosition(s)
		if !ok {
			continue
		}
		if km := DistanceKm(lat, lon, sLat, sLon); km < bestKm {
			best, bestKm = i, km
		}
	}
	if best < 0 {
		return Choice{Index: def, Why: "default"}
	}
	return Choice{Index: best, Why: "nearest (" + siteKm(bestKm) + ")"}
}

// sitePosition is where s is: its own coordinates, else its province's capital; ok false when
// it has neither.
func sitePosition(s Site) (lat, lon float64, ok bool) {
	if s.HasCoord {
		return s.Lat, s.Lon, true
	}
	return Capital(s.Province)
}

// siteKm writes a distance as whole kilometres with thousands separators ("1,203 km"), the way
// an operator reads it in a log line.
func siteKm(km float64) string {
	s := strconv.FormatInt(int64(math.Round(km)), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " km"
}
