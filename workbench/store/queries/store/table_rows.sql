-- Rows and size on disk of every workbench table in the current database.
SELECT
    name AS table,
    total_rows AS rows,
    formatReadableSize(total_bytes) AS size_on_disk
FROM system.tables
WHERE database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView')
ORDER BY name
