package dev.ovation.chat;

import io.netty.util.NetUtil;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * The proxies whose {@code X-Forwarded-For} the gateway believes ({@code chat.trusted-proxies}): IP addresses or CIDR
 * ranges, IPv4 or IPv6. The client address of a connection is its remote address unless that is a trusted proxy;
 * then it is the right-most address of {@code X-Forwarded-For} that is not a trusted proxy (each proxy appends the
 * address it received the request from, so everything left of the first untrusted hop may be forged by the client).
 */
public final class TrustedProxies {
    /** Nobody's X-Forwarded-For is believed. */
    public static final TrustedProxies NONE = new TrustedProxies(List.of());

    private record Range(byte[] network, int prefixBits) {
        boolean contains(byte[] address) {
            if (address.length != network.length) {
                return false;
            }
            int full = prefixBits / 8;
            for (int i = 0; i < full; i++) {
                if (address[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefixBits % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return (address[full] & mask) == (network[full] & mask);
        }
    }

    private final List<Range> ranges;

    private TrustedProxies(List<Range> ranges) {
        this.ranges = ranges;
    }

    /**
     * Parses {@code 10.0.0.1}, {@code 10.0.0.0/8}, {@code ::1}, {@code fd00::/8}...
     *
     * @throws IllegalArgumentException naming the entry that is not an IP address or CIDR range
     */
    public static TrustedProxies parse(List<String> entries) {
        List<Range> ranges = new ArrayList<>();
        for (String raw : entries) {
            String e = raw.strip();
            int slash = e.indexOf('/');
            byte[] address = NetUtil.createByteArrayFromIpAddressString(slash < 0 ? e : e.substring(0, slash));
            if (address == null) {
                throw new IllegalArgumentException("'" + raw + "' is not an IP address or CIDR range");
            }
            int bits = address.length * 8;
            if (slash >= 0) {
                try {
                    bits = Integer.parseInt(e.substring(slash + 1));
                } catch (NumberFormatException ex) {
                    bits = -1;
                }
                if (bits < 0 || bits > address.length * 8) {
                    throw new IllegalArgumentException("'" + raw + "' has a bad prefix length");
                }
            }
            ranges.add(new Range(address, bits));
        }
        return new TrustedProxies(List.copyOf(ranges));
    }

    boolean isEmpty() {
        return ranges.isEmpty();
    }

    boolean trusts(byte[] address) {
        for (Range r : ranges) {
            if (r.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The client address of a connection.
     *
     * @param remote        the connection's remote address (an IP literal)
     * @param forwardedFors every {@code X-Forwarded-For} header value, in order (may be empty)
     */
    String clientIp(String remote, List<String> forwardedFors) {
        byte[] hop = NetUtil.createByteArrayFromIpAddressString(remote);
        if (hop == null || !trusts(hop) || forwardedFors.isEmpty()) {
            return remote;
        }
        List<String> chain = new ArrayList<>();
        for (String header : forwardedFors) {
            for (String part : header.split(",")) {
                if (!part.isBlank()) {
                    chain.add(part.strip());
                }
            }
        }
        String client = remote;
        for (int i = chain.size() - 1; i >= 0; i--) {
            byte[] address = NetUtil.createByteArrayFromIpAddressString(chain.get(i));
            if (address == null) {
                return client; // not an address: the last hop we could believe is the client as far as we know
            }
            client = canonical(address);
            if (!trusts(address)) {
                return client;
            }
        }
        return client;
    }

    /** One spelling per address, so that "::1" and "0:0::1" count against the same limit. */
    private static String canonical(byte[] address) {
        try {
            return java.net.InetAddress.getByAddress(address).getHostAddress();
        } catch (java.net.UnknownHostException e) {
            return new BigInteger(1, address).toString(16);
        }
    }
}
