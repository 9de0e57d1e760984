-- The claim query looks up, per destination, the oldest delivery still queued or in flight
-- (deliveries to one destination go out in event order). This partial index holds only those
-- open deliveries, so finding a destination's head is one index probe however many delivered
-- ones the table keeps and however long a failing destination's backlog grows. Without it the
-- claim read every open delivery on every round and slowed as the queue grew.
CREATE INDEX deliveries_open ON deliveries (destination_id, event_at, event_id)
    WHERE status IN ('queued', 'in_flight');
