-- The Grafana login: a member of baseload_readonly (created, with its grants, by the dashboard migration).
-- Run by the compose `grafana-db-user` one-shot: psql -v pw=<password> -f create-login.sql (idempotent; a rerun
-- sets the password again).
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE baseload_grafana LOGIN PASSWORD %L', :'pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'baseload_grafana') \gexec
SELECT format('ALTER ROLE baseload_grafana LOGIN PASSWORD %L', :'pw') \gexec
GRANT baseload_readonly TO baseload_grafana;
