-- May this role insert, update and delete rows of one pipeline table (by name)?
SELECT has_table_privilege(CAST(:table_name AS text), 'INSERT')
       AND has_table_privilege(CAST(:table_name AS text), 'UPDATE')
       AND has_table_privilege(CAST(:table_name AS text), 'DELETE') AS writable
