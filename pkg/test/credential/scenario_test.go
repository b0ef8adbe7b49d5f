package credential_test

import (
	"context"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// The scenarios of docs/design/generation.md §6 whose samples are kept
// back for acceptance (assumed name, translated name, one DBA whose firm
// has no address, home Washington, home not on file), rebuilt as registry
// rows from the rules of docs/design/generation.md and run through the real
// loader and both profiles.

// scenario is a few registry rows and what each profile makes of them.
type scenario struct {
	name string
	rows []string // INSERT statements (bc_registries schema, fixture_group left NULL)
	// snapshot: per corporation, "TYPE ID JSON" of each credential.
	snapshot map[string][]string
	// history: per corporation, the REG credentials and "TYPE reason
	// effective_date" of every credential.
	historyREG   map[string][]regView
	historyTypes map[string][]string
	// warned lists the corporations expected to warn (missing rows).
	warned map[string]bool
}

var scenarios = []scenario{
	{
		name: "assumed name",
		rows: []string{
			`INSERT INTO corporation (corp_num, corp_typ_cd, recognition_dts, bn_9) VALUES ('A0000001', 'A', '1995-01-10 00:00:00', '111111111')`,
			`INSERT INTO event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES (1001, 'A0000001', 'CONVICORP', '2004-03-26 20:36:00'), (1002, 'A0000001', 'FILE', '2006-02-01 10:00:00')`,
			`INSERT INTO filing (event_id, filing_typ_cd, effective_dt) VALUES (1002, 'NOALA', '2006-02-01 10:00:00')`,
			`INSERT INTO corp_state (corp_num, start_event_id, state_typ_cd) VALUES ('A0000001', 1001, 'ACT')`,
			`INSERT INTO corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES
				('A0000001', 'CO', 1001, 1, 'ACME HOLDINGS INC.'), ('A0000001', 'AS', 1002, 2, 'ACME BC HOLDINGS')`,
			`INSERT INTO jurisdiction (corp_num, start_event_id, can_jur_typ_cd) VALUES ('A0000001', 1001, 'ON')`,
			`INSERT INTO office (corp_num, office_typ_cd, start_event_id, mailing_addr_id, delivery_addr_id) VALUES ('A0000001', 'HD', 1001, 5001, 5001)`,
			`INSERT INTO address (addr_id, addr_line_1, city, province, postal_cd, country_typ_cd) VALUES (5001, '100 KING ST W', 'TORONTO', 'ON', 'M5X1A9', 'CA')`,
		},
		snapshot: map[string][]string{"A0000001": {
			`REG A0000001 {"effective_date": "2006-02-01T18:00:00+00:00", "entity_name": "ACME HOLDINGS INC.", "entity_name_assumed": "ACME BC HOLDINGS", "entity_name_assumed_effective": "2006-02-01T18:00:00+00:00", "entity_name_effective": "2004-03-27T04:36:00+00:00", "entity_status": "ACT", "entity_status_effective": "2004-03-27T04:36:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "ON", "registered_jurisdiction": "BC", "registration_date": "1995-01-10T08:00:00+00:00", "registration_id": "A0000001", "registration_type": ""}`,
			`ADDR A0000001,HD {"address_effective_date": "2004-03-27T04:36:00+00:00", "address_type": "Head Office", "addressee": "ACME HOLDINGS INC.", "civic_address": "100 KING ST W, TORONTO, ON, M5X1A9, CA", "country": "CA", "effective_date": "2004-03-27T04:36:00+00:00", "municipality": "TORONTO", "postal_code": "M5X1A9", "province": "ON", "registration_id": "A0000001"}`,
		}},
		historyREG: map[string][]regView{"A0000001": {
			// The converted original name and the active state date back to
			// registration; the converted jurisdiction is undated (its event
			// yields no credential) but still the one valid then.
			{"Event:CONVICORP", "1995-01-10T08:00:00+00:00", "ACME HOLDINGS INC.", "1995-01-10T08:00:00+00:00", "ACT", "1995-01-10T08:00:00+00:00", "A", "ON"},
			{"Filing:NOALA", "2006-02-01T18:00:00+00:00", "ACME HOLDINGS INC.", "1995-01-10T08:00:00+00:00", "ACT", "1995-01-10T08:00:00+00:00", "A", "ON"},
		}},
		historyTypes: map[string][]string{"A0000001": {
			"REG Event:CONVICORP 1995-01-10T08:00:00+00:00",
			"REG Filing:NOALA 2006-02-01T18:00:00+00:00",
			"ADDR Event:CONVICORP 2004-03-27T04:36:00+00:00",
			"BNC  1995-01-10T08:00:00+00:00",
		}},
	},
	{
		name: "translated name",
		rows: []string{
			`INSERT INTO corporation (corp_num, corp_typ_cd, recognition_dts) VALUES ('0000002', 'BC', '2001-01-05 00:00:00')`,
			`INSERT INTO event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES (2001, '0000002', 'FILE', '2001-01-05 00:00:00'), (2002, '0000002', 'FILE', '2002-02-02 10:00:00')`,
			`INSERT INTO filing (event_id, filing_typ_cd, effective_dt) VALUES (2001, 'ICORP', '2001-01-05 00:00:00'), (2002, 'NOALA', '2002-02-02 10:00:00')`,
			`INSERT INTO corp_state (corp_num, start_event_id, state_typ_cd) VALUES ('0000002', 2001, 'ACT')`,
			`INSERT INTO corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES
				('0000002', 'CO', 2001, 1, 'WIDGETS LTD.'), ('0000002', 'TR', 2002, 2, 'WIDGETS LTÉE'),
				('0000002', 'NO', 2002, 3, 'OTHER NAME'), ('0000002', 'SN', 2001, 4, 'WIDGETS')`,
			`INSERT INTO office (corp_num, office_typ_cd, start_event_id, mailing_addr_id, delivery_addr_id) VALUES ('0000002', 'RG', 2001, 5002, 5003)`,
			`INSERT INTO address (addr_id, addr_line_1, city, province, postal_cd, country_typ_cd) VALUES
				(5002, 'PO BOX 1', 'VICTORIA', 'BC', 'V8V1A1', 'CA'), (5003, '2 MAIN ST', 'VICTORIA', 'BC', 'V8V1A2', 'CA')`,
		},
		snapshot: map[string][]string{"0000002": {
			`REG 0000002 {"effective_date": "2001-01-05T08:00:00+00:00", "entity_name": "WIDGETS LTD.", "entity_name_effective": "2001-01-05T08:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2001-01-05T08:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2001-01-05T08:00:00+00:00", "registration_id": "BC0000002", "registration_type": ""}`,
			`ADDR 0000002,RG {"address_effective_date": "2001-01-05T08:00:00+00:00", "address_type": "Registered Office", "addressee": "WIDGETS LTD.", "civic_address": "2 MAIN ST, VICTORIA, BC, V8V1A2, CA", "country": "CA", "effective_date": "2001-01-05T08:00:00+00:00", "municipality": "VICTORIA", "postal_code": "V8V1A2", "province": "BC", "registration_id": "BC0000002"}`,
		}},
		historyREG: map[string][]regView{"0000002": {
			{"Filing:ICORP", "2001-01-05T08:00:00+00:00", "WIDGETS LTD.", "2001-01-05T08:00:00+00:00", "ACT", "2001-01-05T08:00:00+00:00", "BC", "BC"},
		}},
		historyTypes: map[string][]string{"0000002": {
			"REG Filing:ICORP 2001-01-05T08:00:00+00:00",
			"ADDR Filing:ICORP 2001-01-05T08:00:00+00:00",
		}},
	},
	{
		name: "one DBA, firm without address",
		rows: []string{
			`INSERT INTO corporation (corp_num, corp_typ_cd, recognition_dts) VALUES ('0000003', 'BC', '2003-03-03 00:00:00'), ('FM0000004', 'SP', '2010-02-02 00:00:00')`,
			`INSERT INTO event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES (3001, '0000003', 'FILE', '2003-03-03 00:00:00'), (3002, 'FM0000004', 'FILE', '2010-02-02 09:00:00')`,
			`INSERT INTO filing (event_id, filing_typ_cd, effective_dt) VALUES (3001, 'ICORP', '2003-03-03 00:00:00'), (3002, 'FRREG', '2010-02-02 00:00:00')`,
			`INSERT INTO corp_state (corp_num, start_event_id, state_typ_cd) VALUES ('0000003', 3001, 'ACT'), ('FM0000004', 3002, 'ACT')`,
			`INSERT INTO corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES
				('0000003', 'CO', 3001, 1, 'OWNER CO LTD.'), ('FM0000004', 'CO', 3002, 1, 'OWNER DBA')`,
			`INSERT INTO office (corp_num, office_typ_cd, start_event_id, mailing_addr_id, delivery_addr_id) VALUES ('0000003', 'RG', 3001, 5004, 5004)`,
			`INSERT INTO address (addr_id, addr_line_1, city, province, postal_cd, country_typ_cd) VALUES (5004, '3 MAIN ST', 'KELOWNA', 'BC', 'V1Y1A1', 'CA')`,
			// The FBO row, and a director of the owner that makes nothing.
			`INSERT INTO corp_party (corp_party_id, corp_num, party_typ_cd, start_event_id, business_nme, bus_company_num) VALUES
				(77, 'FM0000004', 'FBO', 3002, '0000003 OWNER CO LTD.', '0000003'),
				(78, '0000003', 'DIR', 3001, NULL, NULL)`,
		},
		snapshot: map[string][]string{
			"0000003": {
				`REG 0000003 {"effective_date": "2003-03-03T08:00:00+00:00", "entity_name": "OWNER CO LTD.", "entity_name_effective": "2003-03-03T08:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2003-03-03T08:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2003-03-03T08:00:00+00:00", "registration_id": "BC0000003", "registration_type": ""}`,
				`ADDR 0000003,RG {"address_effective_date": "2003-03-03T08:00:00+00:00", "address_type": "Registered Office", "addressee": "OWNER CO LTD.", "civic_address": "3 MAIN ST, KELOWNA, BC, V1Y1A1, CA", "country": "CA", "effective_date": "2003-03-03T08:00:00+00:00", "municipality": "KELOWNA", "postal_code": "V1Y1A1", "province": "BC", "registration_id": "BC0000003"}`,
				`REL BC0000003 {"associated_registration_id": "FM0000004", "effective_date": "2010-02-02T08:00:00+00:00", "registration_id": "BC0000003", "relationship": "Owns", "relationship_description": "Does Business As", "relationship_status": "ACT", "relationship_status_effective": "2010-02-02T08:00:00+00:00"}`,
			},
			// A firm gets REG (and ADDR when it has an office), never REL.
			"FM0000004": {
				`REG FM0000004 {"effective_date": "2010-02-02T17:00:00+00:00", "entity_name": "OWNER DBA", "entity_name_effective": "2010-02-02T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-02-02T08:00:00+00:00", "entity_type": "Sole Proprietorship", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-02-02T08:00:00+00:00", "registration_id": "FM0000004", "registration_type": ""}`,
			},
		},
		historyTypes: map[string][]string{
			"0000003": {
				"REG Filing:ICORP 2003-03-03T08:00:00+00:00",
				"ADDR Filing:ICORP 2003-03-03T08:00:00+00:00",
				"REL Filing:FRREG 2010-02-02T08:00:00+00:00",
			},
			"FM0000004": {
				"REG Filing:FRREG 2010-02-02T08:00:00+00:00",
				"REL Filing:FRREG 2010-02-02T08:00:00+00:00",
			},
		},
	},
	{
		name: "home Washington, registration cancelled",
		rows: []string{
			`INSERT INTO corporation (corp_num, corp_typ_cd, recognition_dts) VALUES ('A0000005', 'A', '1990-01-01 00:00:00')`,
			`INSERT INTO event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES (5001, 'A0000005', 'CONVICORP', '2004-03-26 20:36:00'), (5002, 'A0000005', 'FILE', '2012-01-15 10:00:00')`,
			`INSERT INTO filing (event_id, filing_typ_cd, effective_dt) VALUES (5002, 'CO_XP', '2012-01-15 10:00:00')`,
			`INSERT INTO corp_state (corp_num, start_event_id, end_event_id, state_typ_cd) VALUES ('A0000005', 5001, 5002, 'ACT'), ('A0000005', 5002, NULL, 'RCF')`,
			`INSERT INTO corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES ('A0000005', 'CO', 5001, 1, 'PACIFIC NW CORP.')`,
			`INSERT INTO jurisdiction (corp_num, start_event_id, can_jur_typ_cd, othr_juris_desc) VALUES ('A0000005', 5001, 'OT', 'US, WA')`,
		},
		snapshot: map[string][]string{"A0000005": {
			`REG A0000005 {"effective_date": "2012-01-15T18:00:00+00:00", "entity_name": "PACIFIC NW CORP.", "entity_name_effective": "2004-03-27T04:36:00+00:00", "entity_status": "HIS", "entity_status_effective": "2012-01-15T18:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "US, WA", "registered_jurisdiction": "BC", "registration_date": "1990-01-01T08:00:00+00:00", "registration_id": "A0000005", "registration_type": ""}`,
		}},
		historyREG: map[string][]regView{"A0000005": {
			{"Event:CONVICORP", "1990-01-01T08:00:00+00:00", "PACIFIC NW CORP.", "1990-01-01T08:00:00+00:00", "ACT", "1990-01-01T08:00:00+00:00", "A", "US, WA"},
			{"Filing:CO_XP", "2012-01-15T18:00:00+00:00", "PACIFIC NW CORP.", "1990-01-01T08:00:00+00:00", "HIS", "2012-01-15T18:00:00+00:00", "A", "US, WA"},
		}},
	},
	{
		// Amalgamated (HAM) into a company whose amalgamation event is not
		// on file: the original failed; OT without a description.
		name: "home not on file, amalgamation event missing",
		rows: []string{
			`INSERT INTO corporation (corp_num, corp_typ_cd, recognition_dts) VALUES ('A0000006', 'A', '1985-05-05 00:00:00')`,
			`INSERT INTO event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES (6001, 'A0000006', 'CONVICORP', '2004-03-26 20:36:00')`,
			`INSERT INTO corp_state (corp_num, start_event_id, end_event_id, state_typ_cd) VALUES ('A0000006', 6001, 6099, 'ACT'), ('A0000006', 6099, NULL, 'HAM')`,
			`INSERT INTO corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES ('A0000006', 'CO', 6001, 1, 'GONE LTD.')`,
			`INSERT INTO jurisdiction (corp_num, start_event_id, can_jur_typ_cd, othr_juris_desc) VALUES ('A0000006', 6001, 'OT', NULL)`,
		},
		snapshot: map[string][]string{"A0000006": {
			`REG A0000006 {"effective_date": "2004-03-27T04:36:00+00:00", "entity_name": "GONE LTD.", "entity_name_effective": "2004-03-27T04:36:00+00:00", "entity_status": "HIS", "entity_status_effective": "1985-05-05T07:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "OT", "registered_jurisdiction": "BC", "registration_date": "1985-05-05T07:00:00+00:00", "registration_id": "A0000006", "registration_type": ""}`,
		}},
		warned: map[string]bool{"A0000006": true},
	},
}

func TestKeptBackScenarios(t *testing.T) {
	tmpl := sourcetest.Template(t)
	snapshot := credential.NewSnapshot(credential.Options{})
	history := credential.NewHistory(credential.Options{})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			// An empty registry: the fixture's tables with no group's rows,
			// and the code tables.
			pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "none"))
			for _, row := range sc.rows {
				if _, err := pool.Exec(context.Background(), "SET search_path TO bc_registries; "+row); err != nil {
					t.Fatalf("%s: %v", row, err)
				}
			}
			var nums []string
			for num := range sc.snapshot {
				nums = append(nums, num)
			}
			batch, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), nums)
			if err != nil {
				t.Fatal(err)
			}
			params := credential.FullRange(newestEvent(t, pool), synthNow)
			for _, num := range nums {
				snap, err := batch.Get(num)
				if err != nil {
					t.Fatal(err)
				}
				res, err := snapshot.Generate(snap, credential.Params{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, c := range res.Credentials {
					got = append(got, c.Type+" "+c.ID+" "+c.JSON)
				}
				if diff := gocmp.Diff(sc.snapshot[num], got); diff != "" {
					t.Errorf("%s: snapshot profile (-want +got):\n%s", num, diff)
				}
				if (len(res.Warnings) > 0) != sc.warned[num] {
					t.Errorf("%s: snapshot warnings %q", num, res.Warnings)
				}

				hres, err := history.Generate(snap, params)
				if err != nil {
					t.Fatal(err)
				}
				if want, ok := sc.historyREG[num]; ok {
					if diff := gocmp.Diff(want, regViews(hres)); diff != "" {
						t.Errorf("%s: history REG (-want +got):\n%s", num, diff)
					}
				}
				if want, ok := sc.historyTypes[num]; ok {
					var got []string
					for _, c := range hres.Credentials {
						got = append(got, c.Type+" "+c.Reason+" "+c.EffectiveDate)
					}
					if diff := gocmp.Diff(want, got); diff != "" {
						t.Errorf("%s: history credentials (-want +got):\n%s", num, diff)
					}
				}
				if (len(hres.Warnings) > 0) != sc.warned[num] {
					t.Errorf("%s: history warnings %q", num, hres.Warnings)
				}
			}
		})
	}
}
