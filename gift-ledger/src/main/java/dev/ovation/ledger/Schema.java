package dev.ovation.ledger;

import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.table;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Table;
import org.jooq.impl.SQLDataType;

/** Table and column constants of the ledger schema (db/ledger/common/V1__ledger_schema.sql). */
final class Schema {
    private Schema() {
    }

    static final Table<Record> SEQUENCES = table(name("ledger_sequences"));
    static final Field<String> SEQ_NAME = field(name("ledger_sequences", "name"), SQLDataType.VARCHAR);
    static final Field<Long> SEQ_NEXT = field(name("ledger_sequences", "next_value"), SQLDataType.BIGINT);

    static final Table<Record> ACCOUNTS = table(name("ledger_accounts"));
    static final Field<Long> A_ID = field(name("ledger_accounts", "id"), SQLDataType.BIGINT);
    static final Field<String> A_KIND = field(name("ledger_accounts", "kind"), SQLDataType.VARCHAR);
    static final Field<String> A_OWNER = field(name("ledger_accounts", "owner"), SQLDataType.VARCHAR);
    static final Field<String> A_CURRENCY = field(name("ledger_accounts", "currency"), SQLDataType.VARCHAR);
    static final Field<String> A_NORMAL = field(name("ledger_accounts", "normal_side"), SQLDataType.CHAR);
    static final Field<Integer> A_SHARD = field(name("ledger_accounts", "shard"), SQLDataType.INTEGER);
    static final Field<Boolean> A_FLAGGED = field(name("ledger_accounts", "flagged"), SQLDataType.BOOLEAN);
    static final Field<LocalDateTime> A_CREATED = field(name("ledger_accounts", "created_at"), SQLDataType.LOCALDATETIME(6));

    static final Table<Record> BALANCES = table(name("ledger_balances"));
    static final Field<Long> B_ACCOUNT = field(name("ledger_balances", "account_id"), SQLDataType.BIGINT);
    static final Field<Long> B_BALANCE = field(name("ledger_balances", "balance"), SQLDataType.BIGINT);
    static final Field<Long> B_RESERVED = field(name("ledger_balances", "reserved"), SQLDataType.BIGINT);
    static final Field<Long> B_ENTRIES = field(name("ledger_balances", "entry_count"), SQLDataType.BIGINT);
    static final Field<Long> B_LAST_TX = field(name("ledger_balances", "last_tx_id"), SQLDataType.BIGINT);

    static final Table<Record> TRANSACTIONS = table(name("ledger_transactions"));
    static final Field<Long> T_ID = field(name("ledger_transactions", "id"), SQLDataType.BIGINT);
    static final Field<String> T_KEY = field(name("ledger_transactions", "idempotency_key"), SQLDataType.VARCHAR);
    static final Field<String> T_HASH = field(name("ledger_transactions", "request_hash"), SQLDataType.CHAR);
    static final Field<String> T_TYPE = field(name("ledger_transactions", "type"), SQLDataType.VARCHAR);
    static final Field<LocalDateTime> T_EFFECTIVE = field(name("ledger_transactions", "effective_at"), SQLDataType.LOCALDATETIME(6));
    static final Field<LocalDateTime> T_POSTED = field(name("ledger_transactions", "posted_at"), SQLDataType.LOCALDATETIME(6));
    static final Field<Long> T_REVERSAL_OF = field(name("ledger_transactions", "reversal_of"), SQLDataType.BIGINT);
    static final Field<String> T_METADATA = field(name("ledger_transactions", "metadata"), SQLDataType.VARCHAR);
    static final Field<String> T_EXTERNAL_REF = field(name("ledger_transactions", "external_ref"), SQLDataType.VARCHAR);

    static final Table<Record> POSTINGS = table(name("ledger_postings"));
    static final Field<Long> P_TX = field(name("ledger_postings", "tx_id"), SQLDataType.BIGINT);
    static final Field<Integer> P_SEQ = field(name("ledger_postings", "seq"), SQLDataType.INTEGER);
    static final Field<Long> P_ACCOUNT = field(name("ledger_postings", "account_id"), SQLDataType.BIGINT);
    static final Field<Long> P_ENTRY_NO = field(name("ledger_postings", "entry_no"), SQLDataType.BIGINT);
    static final Field<String> P_CURRENCY = field(name("ledger_postings", "currency"), SQLDataType.VARCHAR);
    static final Field<Long> P_AMOUNT = field(name("ledger_postings", "amount"), SQLDataType.BIGINT);
    static final Field<Long> P_BALANCE_AFTER = field(name("ledger_postings", "balance_after"), SQLDataType.BIGINT);

    static final Table<Record> PENDING = table(name("ledger_pending"));
    static final Field<Long> PE_ID = field(name("ledger_pending", "id"), SQLDataType.BIGINT);
    static final Field<String> PE_KEY = field(name("ledger_pending", "idempotency_key"), SQLDataType.VARCHAR);
    static final Field<String> PE_HASH = field(name("ledger_pending", "request_hash"), SQLDataType.CHAR);
    static final Field<String> PE_TYPE = field(name("ledger_pending", "type"), SQLDataType.VARCHAR);
    static final Field<LocalDateTime> PE_EFFECTIVE = field(name("ledger_pending", "effective_at"), SQLDataType.LOCALDATETIME(6));
    static final Field<LocalDateTime> PE_CREATED = field(name("ledger_pending", "created_at"), SQLDataType.LOCALDATETIME(6));
    static final Field<String> PE_METADATA = field(name("ledger_pending", "metadata"), SQLDataType.VARCHAR);
    static final Field<String> PE_STATE = field(name("ledger_pending", "state"), SQLDataType.VARCHAR);
    static final Field<Long> PE_RESOLVED_TX = field(name("ledger_pending", "resolved_tx_id"), SQLDataType.BIGINT);
    static final Field<LocalDateTime> PE_RESOLVED_AT = field(name("ledger_pending", "resolved_at"), SQLDataType.LOCALDATETIME(6));

    static final Table<Record> PENDING_LINES = table(name("ledger_pending_lines"));
    static final Field<Long> PL_PENDING = field(name("ledger_pending_lines", "pending_id"), SQLDataType.BIGINT);
    static final Field<Integer> PL_SEQ = field(name("ledger_pending_lines", "seq"), SQLDataType.INTEGER);
    static final Field<Long> PL_ACCOUNT = field(name("ledger_pending_lines", "account_id"), SQLDataType.BIGINT);
    static final Field<String> PL_CURRENCY = field(name("ledger_pending_lines", "currency"), SQLDataType.VARCHAR);
    static final Field<Long> PL_AMOUNT = field(name("ledger_pending_lines", "amount"), SQLDataType.BIGINT);

    static final Table<Record> CLOSED = table(name("ledger_closed_periods"));
    static final Field<LocalDateTime> C_THROUGH = field(name("ledger_closed_periods", "closed_through"), SQLDataType.LOCALDATETIME(6));
    static final Field<LocalDateTime> C_AT = field(name("ledger_closed_periods", "closed_at"), SQLDataType.LOCALDATETIME(6));

    static LocalDateTime toDb(Instant instant) {
        return LocalDateTime.ofInstant(instant, ZoneOffset.UTC);
    }

    static Instant fromDb(LocalDateTime time) {
        return time == null ? null : time.toInstant(ZoneOffset.UTC);
    }

    static Instant micros(Instant instant) {
        return instant.truncatedTo(ChronoUnit.MICROS);
    }
}
