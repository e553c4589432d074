package timefmt

import (
	"fmt"
	"strings"
)

// Locale holds the month and day names a JodaParser reads for MMM, MMMM,
// EEE and EEEE. Logstash's date filter takes them from Java's locale data
// (CLDR since Java 9); the tables here are those names, for the languages our
// users log in. English is the default.
type Locale struct {
	tag                   string
	monthShort, monthLong []string
	dayShort, dayLong     []string // Monday first
	// fold: names match ignoring case (Unicode), as Joda-Time's parser
	// does, and an abbreviation matches with or without its final dot
	// ("févr." or "févr"), which log writers often drop. English keeps the
	// parser's exact, lower or upper case matching.
	fold bool
	// oldShort are more abbreviations, by month index: those of Java 8's
	// locale data (before CLDR), still common in logs ("sep" in Spanish,
	// "Mär" in German).
	oldShort map[int][]string
}

var english = &Locale{tag: "en", monthShort: monthShort[:], monthLong: monthLong[:], dayShort: dayShort[:], dayLong: dayLong[:]}

// locales are the supported languages, by ISO 639 code. Short names are
// CLDR's abbreviated format names, as Java prints them.
var locales = map[string]*Locale{
	"en": english,
	"fr": {tag: "fr", fold: true,
		monthShort: []string{"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
		monthLong:  []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		dayShort:   []string{"lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."},
		dayLong:    []string{"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"}},
	"de": {tag: "de", fold: true,
		monthShort: []string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
		monthLong:  []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		dayShort:   []string{"Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."},
		dayLong:    []string{"Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"},
		oldShort:   map[int][]string{2: {"Mär"}, 5: {"Jun"}, 6: {"Jul"}, 8: {"Sep"}}},
	"it": {tag: "it", fold: true,
		monthShort: []string{"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"},
		monthLong:  []string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		dayShort:   []string{"lun", "mar", "mer", "gio", "ven", "sab", "dom"},
		dayLong:    []string{"lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"}},
	"es": {tag: "es", fold: true,
		monthShort: []string{"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
		monthLong:  []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		dayShort:   []string{"lun", "mar", "mié", "jue", "vie", "sáb", "dom"},
		dayLong:    []string{"lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"},
		oldShort:   map[int][]string{8: {"sep"}}},
}

// LookupLocale returns the names of a BCP 47 tag ("fr", "fr-FR"; "fr_FR" is
// accepted too): its language decides, the region does not change month
// and day names in these languages.
func LookupLocale(tag string) (*Locale, error) {
	if tag == "" {
		return english, nil
	}
	lang, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	if l, ok := locales[strings.ToLower(lang)]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("locale %q is not supported: month and day names are known for en, fr, de, it and es", tag)
}

// match is matchName for l's names.
func (l *Locale) match(s string, short, long []string) (idx, n int) {
	if !l.fold {
		return matchName(s, short, long)
	}
	try := func(name string, i int) {
		if len(name) > n && len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
			idx, n = i, len(name)
		}
	}
	for i, name := range long {
		try(name, i)
	}
	for i, name := range short {
		try(name, i)
		if trimmed, ok := strings.CutSuffix(name, "."); ok {
			try(trimmed, i)
		}
	}
	if len(short) == 12 {
		for i, names := range l.oldShort {
			for _, name := range names {
				try(name, i)
			}
		}
	}
	return idx, n
}
