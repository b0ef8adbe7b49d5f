package synth

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Word lists for names and addresses. Plain upper-case ASCII, as COLIN
// stores most names, with a few accented words (French names, some trade
// names, Montréal) so that the credentials' \u escaping is exercised.

var placeWords = []string{
	"PACIFIC", "COASTAL", "NORTHERN", "CASCADE", "FRASER", "OKANAGAN", "KOOTENAY", "CARIBOO", "SKEENA",
	"ISLAND", "HARBOUR", "MOUNTAIN", "EVERGREEN", "SUMMIT", "GRANITE", "CEDAR", "SALMON", "RAVEN", "ORCA",
	"GOLDEN", "SILVER", "WESTERN", "EMERALD", "BLUE HERON", "SEA TO SKY", "RAINCOAST", "TIDEWATER", "ALPINE",
	"COLUMBIA", "THOMPSON", "NECHAKO", "PEACE RIVER", "SUNSHINE COAST", "GULF ISLANDS", "LIONS GATE", "BURRARD",
}

var tradeWords = []string{
	"TIMBER", "HOLDINGS", "VENTURES", "DEVELOPMENTS", "CONSULTING", "ENTERPRISES", "INVESTMENTS", "CONSTRUCTION",
	"MINING", "TRANSPORT", "PROPERTIES", "SEAFOODS", "LOGISTICS", "TECHNOLOGIES", "RESOURCES", "MARINE", "FARMS",
	"DESIGN", "ENGINEERING", "MANAGEMENT", "TRADING", "HOSPITALITY", "ORCHARDS", "ENERGY", "MEDIA", "SOFTWARE",
}

var firmTrades = []string{
	"PLUMBING", "LANDSCAPING", "BAKERY", "AUTO REPAIR", "PAINTING", "BOOKKEEPING", "CLEANING SERVICES", "PHOTOGRAPHY",
	"CATERING", "RENOVATIONS", "HAIR STUDIO", "TUTORING", "ROOFING", "WELDING", "FLOORING", "DOG GROOMING",
	"MOBILE MECHANICS", "YOGA", "COFFEE", "FISH AND CHIPS", "TRUCKING", "ELECTRIC", "MASONRY", "WINDOWS",
}

// accentedTrades are the trade names with non-ASCII letters.
var accentedTrades = []string{"CAFÉ", "CRÊPERIE", "PÂTISSERIE", "BRASSERIE BOHÈME", "DÉCOR"}

var frenchWords = []string{
	"LES ENTREPRISES", "SOCIÉTÉ", "GROUPE", "CONSTRUCTIONS", "SERVICES", "IMMEUBLES", "PLACEMENTS", "ÉQUIPEMENTS",
}

var firstNames = []string{
	"JOHN", "MARY", "ROBERT", "PATRICIA", "MICHAEL", "JENNIFER", "DAVID", "LINDA", "JAMES", "ELIZABETH", "WEI",
	"PRIYA", "HARJIT", "MEI", "CHEN", "SOFIA", "LIAM", "NOAH", "OLIVIA", "EMMA", "AMIR", "FATIMA", "KENJI", "YUKI",
}

var lastNames = []string{
	"SMITH", "BROWN", "TREMBLAY", "MARTIN", "ROY", "WILSON", "MACDONALD", "GAGNON", "JOHNSON", "TAYLOR", "LEE",
	"WONG", "SINGH", "GILL", "CHAN", "NGUYEN", "PATEL", "O'NEILL", "CAMPBELL", "ANDERSON", "LI", "KIM", "SANDHU",
}

var streets = []string{
	"MAIN", "GRANVILLE", "HASTINGS", "KINGSWAY", "DOUGLAS", "GOVERNMENT", "YATES", "BROADWAY", "GEORGIA",
	"FRASER", "OAK", "CEDAR", "MARINE", "LONSDALE", "BERNARD", "VICTORIA", "COLUMBIA", "FIRST", "SECOND",
}

var streetTypes = []string{"STREET", "AVENUE", "ROAD", "DRIVE", "WAY", "CRESCENT", "BOULEVARD"}

// bcCities with weights close to where BC businesses are.
var bcCities = []string{
	"VANCOUVER", "VANCOUVER", "VANCOUVER", "VANCOUVER", "SURREY", "SURREY", "BURNABY", "RICHMOND", "VICTORIA",
	"VICTORIA", "KELOWNA", "ABBOTSFORD", "COQUITLAM", "LANGLEY", "NANAIMO", "KAMLOOPS", "NORTH VANCOUVER",
	"PRINCE GEORGE", "CHILLIWACK", "DELTA", "WHISTLER", "SQUAMISH", "CRANBROOK", "FORT ST. JOHN",
}

// homeCities are the cities of head offices outside BC, by province or
// country code.
var homeCities = map[string][]string{
	"AB": {"CALGARY", "EDMONTON"}, "ON": {"TORONTO", "OTTAWA", "MISSISSAUGA"}, "QC": {"MONTRÉAL", "QUÉBEC"},
	"SK": {"REGINA", "SASKATOON"}, "MB": {"WINNIPEG"}, "NS": {"HALIFAX"}, "NB": {"MONCTON"}, "FD": {"TORONTO", "CALGARY"},
	"US": {"SEATTLE", "WILMINGTON", "NEW YORK", "SAN FRANCISCO"}, "GB": {"LONDON"},
}

var postalLetters = "ABCEGHJKLMNPRSTVWXYZ"

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// searchName is srch_nme: the name's letters and digits, upper case, as
// COLIN's name searches used it.
func searchName(name string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(name) {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	s := b.String()
	if len(s) > 30 {
		s = s[:30]
	}
	return s
}

// bcPostalCode returns a postal code of the V region.
func bcPostalCode(r *rand.Rand) string {
	b := []byte{'V', byte('0' + r.IntN(10)), postalLetters[r.IntN(len(postalLetters))], ' ',
		byte('0' + r.IntN(10)), postalLetters[r.IntN(len(postalLetters))], byte('0' + r.IntN(10))}
	return string(b)
}

func streetLine(r *rand.Rand) string {
	return strconv.Itoa(100+r.IntN(19900)) + " " + pick(r, streets) + " " + pick(r, streetTypes)
}

func personName(r *rand.Rand) (first, last string) { return pick(r, firstNames), pick(r, lastNames) }

func ptr[T any](v T) *T { return &v }
