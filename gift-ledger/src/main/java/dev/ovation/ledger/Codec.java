package dev.ovation.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Metadata as JSON (sorted keys) and the request fingerprint stored beside each idempotency key. */
final class Codec {
    private static final TypeReference<TreeMap<String, String>> MAP = new TypeReference<>() {
    };
    private final ObjectMapper json = new ObjectMapper();

    String metadataJson(Map<String, String> metadata) {
        try {
            return json.writeValueAsString(new TreeMap<>(metadata));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    Map<String, String> metadata(String text) {
        try {
            return Map.copyOf(json.readValue(text, MAP));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("bad metadata in database: " + e.getMessage(), e);
        }
    }

    /** SHA-256 (hex) over a canonical, length-prefixed rendering of what the request asks for. */
    static String fingerprint(String kind, TransactionType type, Instant effectiveAt, Long reversalOf,
                              Map<String, String> metadata, List<Entry> entries, long extra) {
        return fingerprint(kind, type, effectiveAt, reversalOf, metadata, entries, extra, null);
    }

    /** As above; a non-null external reference is part of the request (a null one leaves older hashes as they were). */
    static String fingerprint(String kind, TransactionType type, Instant effectiveAt, Long reversalOf,
                              Map<String, String> metadata, List<Entry> entries, long extra, String externalRef) {
        StringBuilder sb = new StringBuilder(256);
        part(sb, kind);
        part(sb, type.name());
        part(sb, effectiveAt == null ? "-" : effectiveAt.toString());
        part(sb, reversalOf == null ? "-" : reversalOf.toString());
        part(sb, Long.toString(extra));
        for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
            part(sb, e.getKey());
            part(sb, e.getValue());
        }
        part(sb, "|");
        for (Entry e : entries) {
            part(sb, e.account().kind().name());
            part(sb, e.account().owner());
            part(sb, e.account().currency().code());
            part(sb, e.side().name());
            part(sb, Long.toString(e.amount()));
        }
        if (externalRef != null) {
            part(sb, "ref");
            part(sb, externalRef);
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(sha.digest(sb.toString().getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void part(StringBuilder sb, String s) {
        sb.append(s.length()).append(':').append(s);
    }
}
