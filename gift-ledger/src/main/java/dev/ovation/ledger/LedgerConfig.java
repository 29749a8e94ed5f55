package dev.ovation.ledger;

/**
 * Limits and tuning of the ledger. Config keys (config/ovation.conf) are {@code ledger.} + the component name in
 * kebab case, e.g. {@code ledger.batch-max-transactions}.
 *
 * @param batchMaxTransactions        most requests the writer puts in one database transaction (group commit)
 * @param batchLingerMicros           how long the writer waits for more requests once it has one; 0 = take what
 *                                    is queued (batches then grow by themselves while a commit runs)
 * @param maxQueuedRequests           writer queue bound; beyond it requests fail at once with OVERLOADED
 * @param readerThreads               threads for reads (balance, statements, verify...)
 * @param maxEntriesPerTransaction    most lines in one request
 * @param maxMetadataEntries          most metadata keys in one request
 * @param maxMetadataChars            longest metadata, as JSON, in characters
 * @param maxStatementPageSize        most lines in one statement page
 * @param idBlockSize                 ids reserved from the database at a time (ids are unique across processes)
 * @param accountCacheSize            account ids remembered by the writer
 * @param verifyMaxProblems           most problems one verify reports
 * @param maxGiftCount                most gifts in one gift request
 * @param defaultCreatorShareBasisPoints creator's share of a gift in basis points (5000 = 50%) unless overridden
 * @param payoutMinimumCoins          smallest creator earnings balance that may be paid out
 * @param writerThreads               writer threads (each with its own connection and batch) on MariaDB; embedded
 *                                    H2 always uses one
 */
public record LedgerConfig(int batchMaxTransactions, long batchLingerMicros, int maxQueuedRequests,
                           int readerThreads, int maxEntriesPerTransaction, int maxMetadataEntries,
                           int maxMetadataChars, int maxStatementPageSize, int idBlockSize, int accountCacheSize,
                           int verifyMaxProblems, int maxGiftCount, int defaultCreatorShareBasisPoints,
                           long payoutMinimumCoins, int writerThreads) {

    public LedgerConfig {
        positive("batchMaxTransactions", batchMaxTransactions);
        if (batchLingerMicros < 0 || batchLingerMicros > 1_000_000) {
            throw new IllegalArgumentException("batchLingerMicros must be 0..1000000");
        }
        positive("maxQueuedRequests", maxQueuedRequests);
        positive("readerThreads", readerThreads);
        if (maxEntriesPerTransaction < 2) {
            throw new IllegalArgumentException("maxEntriesPerTransaction must be >= 2");
        }
        positive("maxMetadataEntries", maxMetadataEntries);
        if (maxMetadataChars < 2 || maxMetadataChars > 4000) {
            throw new IllegalArgumentException("maxMetadataChars must be 2..4000 (the column holds 4000)");
        }
        positive("maxStatementPageSize", maxStatementPageSize);
        positive("idBlockSize", idBlockSize);
        positive("accountCacheSize", accountCacheSize);
        positive("verifyMaxProblems", verifyMaxProblems);
        positive("maxGiftCount", maxGiftCount);
        if (defaultCreatorShareBasisPoints < 0 || defaultCreatorShareBasisPoints > 10_000) {
            throw new IllegalArgumentException("defaultCreatorShareBasisPoints must be 0..10000");
        }
        if (payoutMinimumCoins < 0) {
            throw new IllegalArgumentException("payoutMinimumCoins must be >= 0");
        }
        if (writerThreads < 1 || writerThreads > 16) {
            throw new IllegalArgumentException("writerThreads must be 1..16");
        }
    }

    /** The defaults listed in config/ovation.conf. */
    public static LedgerConfig defaults() {
        return new LedgerConfig(1000, 0, 100_000, 2, 16, 16, 2000, 500, 10_000, 200_000, 100, 10_000, 5000, 1000, 2);
    }

    public LedgerConfig withBatchMaxTransactions(int value) {
        return new LedgerConfig(value, batchLingerMicros, maxQueuedRequests, readerThreads, maxEntriesPerTransaction,
                maxMetadataEntries, maxMetadataChars, maxStatementPageSize, idBlockSize, accountCacheSize,
                verifyMaxProblems, maxGiftCount, defaultCreatorShareBasisPoints, payoutMinimumCoins, writerThreads);
    }

    public LedgerConfig withMaxQueuedRequests(int value) {
        return new LedgerConfig(batchMaxTransactions, batchLingerMicros, value, readerThreads, maxEntriesPerTransaction,
                maxMetadataEntries, maxMetadataChars, maxStatementPageSize, idBlockSize, accountCacheSize,
                verifyMaxProblems, maxGiftCount, defaultCreatorShareBasisPoints, payoutMinimumCoins, writerThreads);
    }

    public LedgerConfig withWriterThreads(int value) {
        return new LedgerConfig(batchMaxTransactions, batchLingerMicros, maxQueuedRequests, readerThreads,
                maxEntriesPerTransaction, maxMetadataEntries, maxMetadataChars, maxStatementPageSize, idBlockSize,
                accountCacheSize, verifyMaxProblems, maxGiftCount, defaultCreatorShareBasisPoints, payoutMinimumCoins,
                value);
    }

    private static void positive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0");
        }
    }
}
