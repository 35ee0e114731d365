-- 008_dataset_classes.sql - migrations/008_dataset_classes.sql (SQLite) in
-- PostgreSQL: a data set's class names as a JSON array of strings, or NULL.
ALTER TABLE datasets ADD COLUMN class_names TEXT;
