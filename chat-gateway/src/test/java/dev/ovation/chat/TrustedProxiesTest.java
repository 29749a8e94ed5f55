package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class TrustedProxiesTest {
    final TrustedProxies proxies = TrustedProxies.parse(List.of("10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"));

    @Test
    void untrustedRemoteIsTheClientWhateverItForwards() {
        assertThat(proxies.clientIp("203.0.113.9", List.of("1.2.3.4"))).isEqualTo("203.0.113.9");
        assertThat(TrustedProxies.NONE.clientIp("10.0.0.1", List.of("1.2.3.4"))).isEqualTo("10.0.0.1");
    }

    @Test
    void trustedRemoteNamesTheRightMostUntrustedHop() {
        assertThat(proxies.clientIp("10.9.9.9", List.of("1.2.3.4"))).isEqualTo("1.2.3.4");
        assertThat(proxies.clientIp("10.9.9.9", List.of("6.6.6.6, 1.2.3.4, 192.168.1.7"))).isEqualTo("1.2.3.4");
        assertThat(proxies.clientIp("192.168.1.7", List.of("6.6.6.6", "1.2.3.4"))).isEqualTo("1.2.3.4");
        assertThat(proxies.clientIp("192.168.1.8", List.of("1.2.3.4"))).as("outside the /32").isEqualTo("192.168.1.8");
        assertThat(proxies.clientIp("::1", List.of("2001:db8::1"))).isEqualTo("2001:db8:0:0:0:0:0:1");
        assertThat(proxies.clientIp("fd12::5", List.of("2001:db8:0::1, fd00::1"))).isEqualTo("2001:db8:0:0:0:0:0:1");
    }

    @Test
    void chainOfOnlyTrustedHopsOrGarbage() {
        assertThat(proxies.clientIp("10.0.0.1", List.of("10.0.0.2, 10.0.0.3"))).isEqualTo("10.0.0.2");
        assertThat(proxies.clientIp("10.0.0.1", List.of("unknown, 10.0.0.3"))).isEqualTo("10.0.0.3");
        assertThat(proxies.clientIp("10.0.0.1", List.of("not-an-ip"))).isEqualTo("10.0.0.1");
        assertThat(proxies.clientIp("10.0.0.1", List.of())).isEqualTo("10.0.0.1");
    }

    @Test
    void badEntriesAreRefused() {
        assertThatThrownBy(() -> TrustedProxies.parse(List.of("proxy.example.com")))
                .hasMessageContaining("proxy.example.com");
        assertThatThrownBy(() -> TrustedProxies.parse(List.of("10.0.0.0/33"))).hasMessageContaining("prefix");
        assertThatThrownBy(() -> ChatConfig.defaults().withTrustedProxies(List.of("x")))
                .hasMessageContaining("trustedProxies");
    }
}
