"""projects-core: projects and tasks."""
