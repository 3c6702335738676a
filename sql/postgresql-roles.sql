-- lycredit: PostgreSQL roles and hardening.
-- Run as the database owner after 'lycredit db init' and after every 'lycredit db upgrade':
--     psql -d lycredit -f sql/postgresql-roles.sql
-- It is idempotent. It creates one NOLOGIN group role per lycredit role; grant them to the
-- login roles of people and cron jobs, e.g.  GRANT lycredit_provider TO scjg_import;
--
-- The operation log (oplog_entry, oplog_operation, oplog_checkpoint) is append-only:
-- every role may INSERT and SELECT it, none may UPDATE, DELETE or TRUNCATE it, and the
-- triggers created by the schema refuse those statements even to the table owner.

DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['lycredit_admin', 'lycredit_operator', 'lycredit_provider',
                           'lycredit_agency', 'lycredit_auditor'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;

-- Start from nothing: public gets no rights on lycredit's tables.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public
  FROM lycredit_admin, lycredit_operator, lycredit_provider, lycredit_agency, lycredit_auditor;
GRANT USAGE ON SCHEMA public
  TO lycredit_admin, lycredit_operator, lycredit_provider, lycredit_agency, lycredit_auditor;

-- Everyone reads everything lycredit keeps (what a command may show is decided by lycredit's
-- disclosure rules and logged); the auditor only reads.
GRANT SELECT ON ALL TABLES IN SCHEMA public
  TO lycredit_admin, lycredit_operator, lycredit_provider, lycredit_agency, lycredit_auditor;

-- The log: append only, for every role that signs operations (refusals are logged too).
GRANT INSERT ON oplog_entry, oplog_operation, oplog_checkpoint
  TO lycredit_admin, lycredit_operator, lycredit_provider, lycredit_agency;
REVOKE UPDATE, DELETE, TRUNCATE ON oplog_entry, oplog_operation, oplog_checkpoint
  FROM PUBLIC, lycredit_admin, lycredit_operator, lycredit_provider, lycredit_agency, lycredit_auditor;

-- Operators, units and keys: the administrator only.
GRANT INSERT, UPDATE ON platform_meta, unit, operator, operator_key TO lycredit_admin;
-- Units can be registered by staff when a provider's unit is first seen.
GRANT INSERT ON unit TO lycredit_operator;

-- Domain tables (catalog, subjects, records, lists, ...) as later migrations add them:
-- staff write them; providers and agencies write their own kinds of data.
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
           AND tablename NOT IN ('oplog_entry', 'oplog_operation', 'oplog_checkpoint', 'alembic_version',
                                 'platform_meta', 'unit', 'operator', 'operator_key') LOOP
    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I TO lycredit_admin, lycredit_operator', t);
    IF t LIKE 'record%' OR t LIKE 'subject%' OR t LIKE 'authorization%' OR t LIKE 'import%' THEN
      EXECUTE format('GRANT INSERT, UPDATE ON %I TO lycredit_provider', t);
    END IF;
    IF t LIKE 'rating%' THEN
      EXECUTE format('GRANT INSERT, UPDATE ON %I TO lycredit_agency', t);
    END IF;
  END LOOP;
END
$$;

-- Sequences behind generated ids.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public
  TO lycredit_admin, lycredit_operator, lycredit_provider, lycredit_agency;
