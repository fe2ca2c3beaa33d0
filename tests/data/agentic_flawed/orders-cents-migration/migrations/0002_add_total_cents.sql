ALTER TABLE orders ADD COLUMN total_cents INTEGER NOT NULL DEFAULT 0;
UPDATE orders SET total_cents = CAST(total * 100 AS INTEGER);
CREATE INDEX orders_customer_id ON orders (customer_id);
