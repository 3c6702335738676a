-- lycredit schema for sqlite, revision 0002.
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

CREATE INDEX ix_oplog_entry_op_seq ON oplog_entry (op_seq);

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

CREATE TABLE unit (
	id INTEGER NOT NULL, 
	uscc VARCHAR(18) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (uscc)
);

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

CREATE TRIGGER oplog_entry_no_update BEFORE UPDATE ON oplog_entry BEGIN SELECT RAISE(ABORT, 'lycredit: UPDATE on oplog_entry refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_entry_no_delete BEFORE DELETE ON oplog_entry BEGIN SELECT RAISE(ABORT, 'lycredit: DELETE on oplog_entry refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_operation_no_update BEFORE UPDATE ON oplog_operation BEGIN SELECT RAISE(ABORT, 'lycredit: UPDATE on oplog_operation refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_operation_no_delete BEFORE DELETE ON oplog_operation BEGIN SELECT RAISE(ABORT, 'lycredit: DELETE on oplog_operation refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_checkpoint_no_update BEFORE UPDATE ON oplog_checkpoint BEGIN SELECT RAISE(ABORT, 'lycredit: UPDATE on oplog_checkpoint refused: the operation log is append-only'); END;

CREATE TRIGGER oplog_checkpoint_no_delete BEFORE DELETE ON oplog_checkpoint BEGIN SELECT RAISE(ABORT, 'lycredit: DELETE on oplog_checkpoint refused: the operation log is append-only'); END;
