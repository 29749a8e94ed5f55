package dev.ovation.ledger;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jooq.SQLDialect;

/**
 * Child process of the crash tests: funds viewers (idempotently), then posts gifts as fast as it can and prints
 * "ACK key txId" for each one the ledger acknowledged, until it is killed.
 * Args: jdbcUrl dialect(H2|MARIADB) round viewers
 */
public final class CrashChild {
    private CrashChild() {
    }

    /** The ledger's defaults; -Dledger.crash.writerThreads=N (passed on by CrashContract) changes the writer count. */
    private static LedgerConfig config() {
        LedgerConfig defaults = LedgerConfig.defaults();
        return defaults.withWriterThreads(Integer.getInteger("ledger.crash.writerThreads", defaults.writerThreads()));
    }

    public static void main(String[] args) throws Exception {
        if (args[1].equals("H2")) {
            // As the server opens its H2 file: the previous round's kill left it; see H2CrashRecovery.
            dev.ovation.ledger.h2.H2CrashRecovery.recoverIfNotClosedCleanly(args[0]);
        }
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(args[0]);
        hc.setMaximumPoolSize(4);
        SQLDialect dialect = SQLDialect.valueOf(args[1]);
        String round = args[2];
        int viewers = Integer.parseInt(args[3]);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, "UTF-8");
        try (HikariDataSource ds = new HikariDataSource(hc);
             Ledger ledger = Ledger.open(ds, dialect, config(), new SimpleMeterRegistry())) {
            for (int v = 0; v < viewers; v++) {
                ledger.promoGrant("v" + v, 1_000_000, "fund-" + v, Map.of()).get(1, TimeUnit.MINUTES);
            }
            synchronized (out) {
                out.println("READY");
                out.flush();
            }
            Semaphore window = new Semaphore(500);
            for (long i = 0; ; i++) {
                window.acquire();
                String key = "crash-" + round + "-" + i;
                ledger.gift("v" + (i % viewers), "c" + (i % 7), "rose", 1, 1 + (i % 5), 5000, key, Map.of())
                        .whenComplete((p, e) -> {
                            window.release();
                            if (p != null) {
                                synchronized (out) {
                                    out.println("ACK " + key + " " + p.transactionId());
                                    out.flush();
                                }
                            }
                        });
            }
        }
    }
}
