package sourcedb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/source"
)

// The loader's rows are scanned by position, in the column order of their
// queries (loader.go): pgx.RowToStructByName matched the columns to the
// fields by reflection for every row, a tenth of a builder's CPU time.
// TestLoaderScansEveryColumn (pkg/test/sourcedb) checks each scan against
// RowToStructByName on the same rows.

// scanner scans one row of a loader query into *T.
type scanner[T any] func(r pgx.Rows, t *T) error

func scanParty(r pgx.Rows, p *source.Party) error {
	return r.Scan(&p.CorpNum, &p.CorpPartyID, &p.MailingAddrID, &p.DeliveryAddrID, &p.PartyTypCd, &p.StartEventID,
		&p.EndEventID, &p.CessationDt, &p.LastNme, &p.MiddleNme, &p.FirstNme, &p.BusinessNme, &p.BusCompanyNum,
		&p.EmailAddress, &p.CorpPartySeqNum, &p.OfficeNotificationDt, &p.Phone, &p.ReasonTypCd)
}

func scanCorporation(r pgx.Rows, c *source.Corporation) error {
	return r.Scan(&c.CorpNum, &c.CorpTypCd, &c.RecognitionDts, &c.LastArFiledDt, &c.Bn9, &c.Bn15, &c.AdminEmail,
		&c.LastLedgerDt)
}

func scanState(r pgx.Rows, s *source.CorpState) error {
	return r.Scan(&s.CorpNum, &s.StartEventID, &s.EndEventID, &s.StateTypCd, &s.DDCorpNum)
}

func scanName(r pgx.Rows, n *source.CorpName) error {
	return r.Scan(&n.CorpNum, &n.CorpNameTypCd, &n.StartEventID, &n.EndEventID, &n.CorpNameSeqNum, &n.SrchNme,
		&n.CorpNme, &n.DDCorpNum)
}

func scanJurisdiction(r pgx.Rows, j *source.Jurisdiction) error {
	return r.Scan(&j.CorpNum, &j.StartEventID, &j.EndEventID, &j.CanJurTypCd, &j.HomeRecognDt, &j.OthrJurisDesc,
		&j.HomeJurisNum, &j.HomeCompanyNme)
}

func scanOffice(r pgx.Rows, o *source.Office) error {
	return r.Scan(&o.CorpNum, &o.OfficeTypCd, &o.StartEventID, &o.EndEventID, &o.MailingAddrID, &o.DeliveryAddrID,
		&o.DDCorpNum, &o.EmailAddress)
}

func scanAddress(r pgx.Rows, a *source.Address) error {
	return r.Scan(&a.AddrID, &a.Province, &a.CountryTypCd, &a.PostalCd, &a.AddrLine1, &a.AddrLine2, &a.AddrLine3,
		&a.City, &a.AddressFormatType, &a.AddressDesc, &a.AddressDescShort, &a.UnitNo, &a.UnitType,
		&a.ProvinceStateName)
}

func scanEvent(r pgx.Rows, e *source.Event) error {
	return r.Scan(&e.EventID, &e.CorpNum, &e.EventTypCd, &e.EventTimestmp, &e.TriggerDts)
}

func scanFiling(r pgx.Rows, f *source.Filing) error {
	return r.Scan(&f.EventID, &f.FilingTypCd, &f.EffectiveDt, &f.ChangeDt, &f.RegistrationDt, &f.PeriodEndDt,
		&f.AccessionNum, &f.ArrangementInd, &f.AuthSignDt, &f.WithdrawnEventID, &f.OdsTypCd, &f.DDEventID,
		&f.AccessCd, &f.NrNum, &f.CourtApprInd, &f.CourtOrderNum, &f.AgmDate, &f.NewCorpNum)
}

func scanConvEvent(r pgx.Rows, c *source.ConvEvent) error {
	return r.Scan(&c.EventID, &c.EffectiveDt, &c.ReportCorpInd, &c.PrevBcInd, &c.ActivityUserID, &c.ActivityDt,
		&c.ActivityTm, &c.AnnualFileDt, &c.CorpCreTypCd, &c.AccessionNum, &c.DDEventID, &c.Remarks)
}

// queue adds a loader query to b; its rows are scanned into *into when
// the batch's results are read.
func queue[T any](b *pgx.Batch, table, sql string, arg any, scan scanner[T], into *[]T) {
	b.Queue(sql, arg).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			*into = append(*into, *new(T))
			if err := scan(rows, &(*into)[len(*into)-1]); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		return nil
	})
}

// send runs the queued queries of b in one round trip.
func send(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("load snapshots: %w", err)
	}
	return nil
}
