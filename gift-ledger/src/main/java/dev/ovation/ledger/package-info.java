/**
 * The gift ledger's public API: {@link dev.ovation.ledger.Ledger} (open it with a DataSource and a jOOQ dialect),
 * requests ({@link dev.ovation.ledger.PostRequest}, {@link dev.ovation.ledger.Flows}), results
 * ({@link dev.ovation.ledger.Posted}, {@link dev.ovation.ledger.Balance}, ...), errors
 * ({@link dev.ovation.ledger.LedgerError}), the gift catalog and revenue share, and
 * {@link dev.ovation.ledger.LedgerConfig}. Everything else in the package is package-private. See docs/ledger.md.
 */
package dev.ovation.ledger;
