package dev.ovation.payments;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Config validation and CSV encoding, without a database. */
class ModelTest {
    @Test
    void coinPackRejectsBadValuesWithAClearMessage() {
        assertThatThrownBy(() -> new CoinPack("p", 0, 100, "USD")).hasMessageContaining("coins and price must be > 0");
        assertThatThrownBy(() -> new CoinPack("p", 10, -1, "USD")).hasMessageContaining("coins and price must be > 0");
        assertThatThrownBy(() -> new CoinPack("", 10, 100, "USD")).hasMessageContaining("1..64");
        assertThatThrownBy(() -> new CoinPack("p", 10, 100, "usd")).hasMessageContaining("ISO 4217");
    }

    @Test
    void configRejectsDuplicatePacksAndBadLimits() {
        CoinPack p = new CoinPack("p", 10, 100, "USD");
        assertThatThrownBy(() -> PaymentsConfig.defaults("sk", "whsec", "http://x", List.of(p, p)))
                .hasMessageContaining("duplicate coin pack id p");
        PaymentsConfig ok = PaymentsConfig.defaults("sk", "whsec", "http://x", List.of(p));
        assertThat(ok.pack("p")).contains(p);
        assertThat(ok.pack("q")).isEmpty();
        assertThatThrownBy(() -> ok.withPayoutHoldDays(-1)).hasMessageContaining("payoutHoldDays");
    }

    @Test
    void csvQuotesOnlyWhatNeedsItAndParsesBackByHeader() {
        String tricky = "a,\"b\"\r\nc";
        PayoutRunReport r = new PayoutRunReport("run,1", List.of(new PayoutRunReport.Line("run,1", "cr", "acct_1",
                5, "USD", 5, "FAILED", null, null, tricky)));
        String csv = r.toCsv();
        assertThat(csv).startsWith(PayoutRunReport.CSV_HEADER + "\r\n").contains("\"run,1\"");
        List<Map<String, String>> rows = CsvReader.parse(csv);
        assertThat(rows).singleElement().satisfies(m -> {
            assertThat(m.get("run_id")).isEqualTo("run,1");
            assertThat(m.get("error")).isEqualTo(tricky);
            assertThat(m.get("transfer_id")).isEmpty();
            assertThat(m.get("coins")).isEqualTo("5");
        });
    }

    @Test
    void emptyReconciliationHasOnlyTheHeader() {
        var rep = new ReconciliationReport(java.time.Instant.EPOCH, java.time.Instant.EPOCH.plusSeconds(1), List.of(),
                Map.of());
        assertThat(rep.toCsv()).isEqualTo(ReconciliationReport.CSV_HEADER + "\r\n");
        assertThat(CsvReader.parse(rep.toCsv())).isEmpty();
    }
}
