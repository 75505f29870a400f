package analyzer

import "slices"

// Positions of the families in the default table, for tests that ask one
// family's score of a host. The engine itself never needs them: it goes
// through the table.
var (
	iSchedule    = slices.Index(Detectors, DetSchedule)
	iColocation  = slices.Index(Detectors, DetColocation)
	iRecruitment = slices.Index(Detectors, DetRecruitment)
	iMoney       = slices.Index(Detectors, DetMoney)
	iAudience    = slices.Index(Detectors, DetAudience)
	iAge         = slices.Index(Detectors, DetAge)
	iAccountAge  = slices.Index(Detectors, DetAccountAge)
	iSignal      = slices.Index(Detectors, DetSignal)
)
