package console

// SampledAbandoned reports whether any sample read the abandoned
// credentials (TestSampleSkipsAbandoned).
func (s *Server) SampledAbandoned() (samples int, abandoned bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, smp := range s.samples {
		abandoned = abandoned || smp.Report.Abandoned != nil
	}
	return len(s.samples), abandoned
}
