-- Soft delete for projects: `deleted_at` is set instead of deleting the row (tasks stay).
--
-- A deleted project's slug is free again, so the column-level UNIQUE of 0001 has to go.
-- SQLite cannot drop a constraint: the table is rebuilt with the same ids, and slugs are
-- unique among live projects only (a partial unique index). The runner applies a migration
-- in one transaction with foreign keys on, so tasks is rebuilt too: dropping projects while
-- tasks still references it would fail. Renaming projects_new to projects rewrites the
-- reference of tasks_new.
CREATE TABLE projects_new (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
INSERT INTO projects_new (id, slug, name, created_at)
    SELECT id, slug, name, created_at FROM projects;

CREATE TABLE tasks_new (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects_new (id),
    title TEXT NOT NULL
);
INSERT INTO tasks_new (id, project_id, title) SELECT id, project_id, title FROM tasks;

DROP TABLE tasks;
DROP TABLE projects;
ALTER TABLE projects_new RENAME TO projects;
ALTER TABLE tasks_new RENAME TO tasks;

CREATE INDEX tasks_project_id ON tasks (project_id);
CREATE UNIQUE INDEX projects_live_slug ON projects (slug) WHERE deleted_at IS NULL;
