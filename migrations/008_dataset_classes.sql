-- 008_dataset_classes.sql - a data set's class names, in label order, as a
-- JSON array of strings (["T-shirt/top", "Trouser", ...]); NULL when the
-- labels have no names (the dashboard and answers then show the numbers).
ALTER TABLE datasets ADD COLUMN class_names TEXT;
