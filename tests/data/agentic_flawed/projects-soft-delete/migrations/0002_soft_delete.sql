ALTER TABLE projects ADD COLUMN deleted_at TEXT;
