package poster

// unit is one corporation's credentials of a batch that may be posted now,
// in record_id (issue) order. A unit is never reordered and never split
// except into consecutive requests.
type unit struct {
	corp  string
	creds []*cred
}

// request is the credentials of one issue request, in body order.
type request struct {
	creds []*cred
}

// lane is requests sent one after another: the next one only once the one
// before got every credential a final answer.
type lane []*request

// pack puts units into requests of at most size credentials, the way the
// original cut its requests at corporation boundaries: units that fit
// share a request in batch order; a unit larger than a request is split
// into consecutive requests of its own lane, so its later credentials never
// overtake earlier ones. Different lanes run concurrently.
//
// Shared requests are filled evenly (24 credentials make two requests of
// about 12, not 20 and 4): VON-X holds a request's schema groups one
// after the other, so a full request followed by a small one is a burst
// of slots the agent queues (and slows down for) and then a lull, where
// two even requests keep its slots steadily in use.
// docs/benchmarks/poster-adaptive.md has the figures.
func pack(units []*unit, size int) []lane {
	// The credentials that share requests are spread evenly over as many
	// requests as they need (at most size each), rather than into full
	// requests and a small remainder.
	shared := 0
	for _, u := range units {
		if n := len(u.creds); n <= size {
			shared += n
		}
	}
	target := size
	if k := (shared + size - 1) / size; k > 1 {
		target = (shared + k - 1) / k
	}
	var lanes []lane
	var cur *request
	flush := func() {
		if cur != nil && len(cur.creds) > 0 {
			lanes = append(lanes, lane{cur})
		}
		cur = nil
	}
	for _, u := range units {
		n := len(u.creds)
		if n == 0 {
			continue
		}
		if n > size {
			var l lane
			for i := 0; i < n; i += size {
				l = append(l, &request{creds: u.creds[i:min(i+size, n)]})
			}
			lanes = append(lanes, l)
			continue
		}
		if cur != nil && (len(cur.creds)+n > size || len(cur.creds) >= target) {
			flush()
		}
		if cur == nil {
			cur = &request{}
		}
		cur.creds = append(cur.creds, u.creds...)
	}
	flush()
	return lanes
}

// splitGroups cuts every request into its (schema, version) groups, in
// order of first appearance, as consecutive requests of its lane. VON-X
// issues a request's groups one after another, one store call each, so
// the agent does the same work in the same order; but a request of one
// group holds its slots for one store call, all at once, and its answer
// tells the poster when they are free again. A request of three groups
// held 10, then 4, then 2 slots without the poster knowing: it could not
// fill the slots the later groups left idle without queueing credentials
// in the agent when the groups lined up.
func splitGroups(lanes []lane) []lane {
	for li, l := range lanes {
		var out lane
		for _, rq := range l {
			type key struct{ schema, version string }
			var order []key
			groups := map[key][]*cred{}
			for _, cr := range rq.creds {
				k := key{cr.c.Schema, cr.c.Version}
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], cr)
			}
			if len(order) == 1 {
				out = append(out, rq)
				continue
			}
			for _, k := range order {
				out = append(out, &request{creds: groups[k]})
			}
		}
		lanes[li] = out
	}
	return lanes
}
