-- Inbound Standard Webhooks deliveries seen (#15 item 14): a delivery id is accepted once per
-- integration; with the signed timestamp's five-minute tolerance this makes a captured request
-- worthless. Rows older than a day are removed as new ones arrive.
CREATE TABLE webhook_deliveries (
  integration text NOT NULL,
  delivery_id text NOT NULL CHECK (length(delivery_id) BETWEEN 1 AND 256),
  received_at timestamptz NOT NULL,
  PRIMARY KEY (integration, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
