-- Money as integer cents. `total` (REAL dollars) stays until the billing export stops reading
-- it; app/repo.py writes both columns meanwhile.
--
-- ROUND before CAST: a REAL such as 19.99 is stored as 19.989999..., so 19.99 * 100 is
-- 1998.9999...; CAST alone truncates it to 1998.
ALTER TABLE orders ADD COLUMN total_cents INTEGER NOT NULL DEFAULT 0;

UPDATE orders SET total_cents = CAST(ROUND(total * 100) AS INTEGER);

-- Serves orders_for_customer: WHERE customer_id = ? ORDER BY created_at DESC, id DESC.
CREATE INDEX orders_customer_created_at ON orders (customer_id, created_at);
