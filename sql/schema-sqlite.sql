-- lycredit schema for sqlite, revision 0004.
-- Generated from the models by 'python -m lycredit.schema ddl --write'; do not edit.

CREATE TABLE calendar_day (
	day DATE NOT NULL, 
	year INTEGER NOT NULL, 
	is_workday BOOLEAN NOT NULL, 
	note VARCHAR(200) NOT NULL, 
	PRIMARY KEY (day)
);

CREATE INDEX ix_calendar_day_year ON calendar_day (year);

CREATE TABLE catalog_version (
	id INTEGER NOT NULL, 
	version VARCHAR(64) NOT NULL, 
	effective_from DATE NOT NULL, 
	source_name VARCHAR(255) NOT NULL, 
	source_sha256 VARCHAR(64) NOT NULL, 
	imported_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (version)
);

CREATE INDEX ix_catalog_version_effective_from ON catalog_version (effective_from);

CREATE TABLE import_run (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	file_name VARCHAR(500) NOT NULL, 
	file_sha256 VARCHAR(64) NOT NULL, 
	layout VARCHAR(32) NOT NULL, 
	operator VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	rows_done INTEGER NOT NULL, 
	counts TEXT NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_import_run_file_sha256 ON import_run (file_sha256);

CREATE TABLE oplog_checkpoint (
	size INTEGER NOT NULL, 
	op_seq INTEGER NOT NULL, 
	root BLOB NOT NULL, 
	note TEXT NOT NULL, 
	frontier BLOB NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (size)
);

CREATE TABLE oplog_entry (
	idx INTEGER NOT NULL, 
	op_seq INTEGER NOT NULL, 
	entry BLOB NOT NULL, 
	PRIMARY KEY (idx)
);

CREATE TABLE oplog_operation (
	seq INTEGER NOT NULL, 
	first_idx INTEGER NOT NULL, 
	leaf_count INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	operator VARCHAR(64) NOT NULL, 
	key_id VARCHAR(8) NOT NULL, 
	command VARCHAR(100) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	subject VARCHAR(64), 
	reason VARCHAR(1000), 
	summary TEXT NOT NULL, 
	PRIMARY KEY (seq)
);

CREATE INDEX ix_oplog_operation_action ON oplog_operation (action);

CREATE INDEX ix_oplog_operation_at ON oplog_operation (at);

CREATE INDEX ix_oplog_operation_operator ON oplog_operation (operator);

CREATE INDEX ix_oplog_operation_subject ON oplog_operation (subject);

CREATE TABLE platform_meta (
	"key" VARCHAR(64) NOT NULL, 
	value VARCHAR(500) NOT NULL, 
	PRIMARY KEY ("key")
);

CREATE TABLE subject (
	id INTEGER NOT NULL, 
	kind VARCHAR(24) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	name_enc VARCHAR(600), 
	uscc VARCHAR(18), 
	ric_enc VARCHAR(200), 
	ric_index VARCHAR(64), 
	checksum_override BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (uscc), 
	UNIQUE (ric_index)
);

CREATE INDEX ix_subject_kind ON subject (kind);

CREATE TABLE unit (
	id INTEGER NOT NULL, 
	uscc VARCHAR(18) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (uscc)
);

CREATE TABLE authorization (
	id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	grantee VARCHAR(18) NOT NULL, 
	scope VARCHAR(64) NOT NULL, 
	valid_from DATE NOT NULL, 
	valid_until DATE NOT NULL, 
	document_ref VARCHAR(200) NOT NULL, 
	document_sha256 VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(subject_id) REFERENCES subject (id)
);

CREATE INDEX ix_authorization_grantee ON authorization (grantee);

CREATE INDEX ix_authorization_subject_id ON authorization (subject_id);

CREATE TABLE catalog_item (
	id INTEGER NOT NULL, 
	version_id INTEGER NOT NULL, 
	code VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	provider_uscc VARCHAR(18) NOT NULL, 
	provider_name VARCHAR(200) NOT NULL, 
	category VARCHAR(32) NOT NULL, 
	disclosure VARCHAR(16) NOT NULL, 
	validity_months INTEGER, 
	dishonesty BOOLEAN NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	subject_kinds VARCHAR(100) NOT NULL, 
	data_standard TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_catalog_item_version_code UNIQUE (version_id, code), 
	FOREIGN KEY(version_id) REFERENCES catalog_version (id)
);

CREATE INDEX ix_catalog_item_provider_uscc ON catalog_item (provider_uscc);

CREATE INDEX ix_catalog_item_version_id ON catalog_item (version_id);

CREATE TABLE operator (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	unit_id INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	revoke_reason VARCHAR(500), 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	FOREIGN KEY(unit_id) REFERENCES unit (id)
);

CREATE INDEX ix_operator_unit_id ON operator (unit_id);

CREATE TABLE subject_link (
	id INTEGER NOT NULL, 
	org_id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	relation VARCHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_subject_link UNIQUE (org_id, person_id, relation), 
	FOREIGN KEY(org_id) REFERENCES subject (id), 
	FOREIGN KEY(person_id) REFERENCES subject (id)
);

CREATE INDEX ix_subject_link_org_id ON subject_link (org_id);

CREATE INDEX ix_subject_link_person_id ON subject_link (person_id);

CREATE TABLE operator_key (
	id INTEGER NOT NULL, 
	operator_id INTEGER NOT NULL, 
	key_id VARCHAR(8) NOT NULL, 
	public_key VARCHAR(64) NOT NULL, 
	valid_from DATETIME NOT NULL, 
	valid_until DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_operator_key_public_key UNIQUE (public_key), 
	FOREIGN KEY(operator_id) REFERENCES operator (id)
);

CREATE INDEX ix_operator_key_key_id ON operator_key (key_id);

CREATE INDEX ix_operator_key_operator_id ON operator_key (operator_id);

CREATE TABLE record (
	id INTEGER NOT NULL, 
	provider_uscc VARCHAR(18) NOT NULL, 
	item_code VARCHAR(64) NOT NULL, 
	document_no VARCHAR(128) NOT NULL, 
	catalog_item_id INTEGER NOT NULL, 
	subject_id INTEGER NOT NULL, 
	decision_date DATE NOT NULL, 
	concluded_on DATE NOT NULL, 
	act_ended_on DATE, 
	publicity_until DATE, 
	disclosure_until DATE, 
	fields TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	revision INTEGER NOT NULL, 
	due_date DATE, 
	due_guessed BOOLEAN NOT NULL, 
	late_days INTEGER NOT NULL, 
	submitted_at DATETIME NOT NULL, 
	submitted_by VARCHAR(64) NOT NULL, 
	import_run_id INTEGER, 
	archived_on DATE, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_record_natural_key UNIQUE (provider_uscc, item_code, document_no), 
	FOREIGN KEY(catalog_item_id) REFERENCES catalog_item (id), 
	FOREIGN KEY(subject_id) REFERENCES subject (id)
);

CREATE INDEX ix_record_status_disclosure_until ON record (status, disclosure_until);

CREATE INDEX ix_record_subject_id ON record (subject_id);

CREATE TABLE record_history (
	id INTEGER NOT NULL, 
	record_id INTEGER NOT NULL, 
	revision INTEGER NOT NULL, 
	change VARCHAR(16) NOT NULL, 
	fields TEXT NOT NULL, 
	reason VARCHAR(1000), 
	changed_at DATETIME NOT NULL, 
	changed_by VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(record_id) REFERENCES record (id)
);

CREATE INDEX ix_record_history_record_id ON record_history (record_id);

CREATE TRIGGER oplog_entry_no_update BEFORE UPDATE ON oplog_entry BEGIN SELECT RAISE(ABORT, 'lycredit: UPDATE on oplog_entry refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_entry_no_delete BEFORE DELETE ON oplog_entry BEGIN SELECT RAISE(ABORT, 'lycredit: DELETE on oplog_entry refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_operation_no_update BEFORE UPDATE ON oplog_operation BEGIN SELECT RAISE(ABORT, 'lycredit: UPDATE on oplog_operation refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_operation_no_delete BEFORE DELETE ON oplog_operation BEGIN SELECT RAISE(ABORT, 'lycredit: DELETE on oplog_operation refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_checkpoint_no_update BEFORE UPDATE ON oplog_checkpoint BEGIN SELECT RAISE(ABORT, 'lycredit: UPDATE on oplog_checkpoint refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_checkpoint_no_delete BEFORE DELETE ON oplog_checkpoint BEGIN SELECT RAISE(ABORT, 'lycredit: DELETE on oplog_checkpoint refused: the operation log is append-only'); END;
