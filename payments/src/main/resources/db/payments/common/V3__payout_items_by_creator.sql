-- A creator's payout lines (Payments.payoutHistory(creatorId): the studio's earnings) without a table scan.
CREATE INDEX payments_payout_items_creator ON payments_payout_items (creator_id, run_id);
