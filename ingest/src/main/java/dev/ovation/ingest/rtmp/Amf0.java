package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * AMF0 (Action Message Format 0) values, as used by RTMP commands and data messages.
 *
 * <p>Java mapping: number - {@link Double}; boolean - {@link Boolean}; string and long string -
 * {@link String}; object - {@link Map} (insertion ordered); ECMA array - {@link EcmaArray}; strict
 * array - {@link List}; null - {@code null}; undefined - {@link #UNDEFINED}; date - {@link AmfDate}.
 * An AVM+ marker switches to one {@link Amf3} value.
 * Decoding is bounded by {@link Limits}; bad or truncated input raises {@link Amf0Exception} and
 * leaves the buffer's reader index wherever decoding stopped.
 */
final class Amf0 {

    static final int NUMBER = 0x00;
    static final int BOOLEAN = 0x01;
    static final int STRING = 0x02;
    static final int OBJECT = 0x03;
    static final int MOVIECLIP = 0x04;
    static final int NULL = 0x05;
    static final int UNDEFINED_MARKER = 0x06;
    static final int REFERENCE = 0x07;
    static final int ECMA_ARRAY = 0x08;
    static final int OBJECT_END = 0x09;
    static final int STRICT_ARRAY = 0x0A;
    static final int DATE = 0x0B;
    static final int LONG_STRING = 0x0C;
    static final int UNSUPPORTED = 0x0D;
    static final int XML_DOCUMENT = 0x0F;
    static final int TYPED_OBJECT = 0x10;
    static final int AVMPLUS = 0x11;

    /** The AMF0 {@code undefined} value. */
    enum Undefined { UNDEFINED }

    static final Undefined UNDEFINED = Undefined.UNDEFINED;

    /** An ECMA (associative) array; kept apart from objects so that it encodes back the same. */
    record EcmaArray(Map<String, Object> entries) {
        EcmaArray {
            Objects.requireNonNull(entries, "entries");
        }
    }

    /** An AMF0 date: milliseconds since the epoch (UTC) and the (ignored, usually 0) time zone. */
    record AmfDate(double epochMillis, short timeZone) {}

    /**
     * Bounds on what a decoder accepts.
     *
     * @param maxDepth       nesting of objects/arrays
     * @param maxStringBytes length of one string (UTF-8 bytes)
     * @param maxElements    entries of one object or array, and values in total per decode call
     */
    record Limits(int maxDepth, int maxStringBytes, int maxElements) {
        static final Limits DEFAULT = new Limits(16, 64 * 1024, 4096);

        Limits {
            if (maxDepth < 1 || maxStringBytes < 0 || maxElements < 1) {
                throw new IllegalArgumentException("bad AMF0 limits");
            }
        }
    }

    private Amf0() {}

    // ---------------------------------------------------------------- decode

    /** Decodes every value until the buffer is exhausted. */
    static List<Object> decodeAll(ByteBuf in, Limits limits) {
        Decoder d = new Decoder(in, limits);
        List<Object> out = new ArrayList<>();
        while (in.isReadable()) {
            d.countElement();
            out.add(d.value(0));
        }
        return out;
    }

    /** Decodes one value. */
    static Object decode(ByteBuf in, Limits limits) {
        return new Decoder(in, limits).value(0);
    }

    private static final class Decoder {
        private final ByteBuf in;
        private final Limits limits;
        private int elements;

        Decoder(ByteBuf in, Limits limits) {
            this.in = in;
            this.limits = limits;
        }

        void countElement() {
            if (++elements > limits.maxElements()) {
                throw new Amf0Exception("more than " + limits.maxElements() + " AMF0 values");
            }
        }

        private void need(int n, String what) {
            if (in.readableBytes() < n) {
                throw new Amf0Exception("truncated AMF0 " + what + ": need " + n + " bytes, have "
                        + in.readableBytes() + " at offset " + in.readerIndex());
            }
        }

        Object value(int depth) {
            need(1, "type marker");
            int marker = in.readUnsignedByte();
            switch (marker) {
                case NUMBER -> {
                    need(8, "number");
                    return in.readDouble();
                }
                case BOOLEAN -> {
                    need(1, "boolean");
                    return in.readByte() != 0;
                }
                case STRING -> {
                    return string(shortLength());
                }
                case LONG_STRING -> {
                    return string(longLength());
                }
                case OBJECT -> {
                    return properties(depth, new LinkedHashMap<>(), "object");
                }
                case ECMA_ARRAY -> {
                    need(4, "ECMA array count");
                    long declared = in.readUnsignedInt(); // advisory only; the object end terminates
                    if (declared > limits.maxElements()) {
                        throw new Amf0Exception("ECMA array declares " + declared + " entries, limit "
                                + limits.maxElements());
                    }
                    return new EcmaArray(properties(depth, new LinkedHashMap<>(), "ECMA array"));
                }
                case STRICT_ARRAY -> {
                    need(4, "strict array count");
                    long count = in.readUnsignedInt();
                    if (count > limits.maxElements()) {
                        throw new Amf0Exception("strict array of " + count + " elements, limit "
                                + limits.maxElements());
                    }
                    checkDepth(depth);
                    List<Object> list = new ArrayList<>((int) count);
                    for (int i = 0; i < count; i++) {
                        countElement();
                        list.add(value(depth + 1));
                    }
                    return list;
                }
                case NULL -> {
                    return null;
                }
                case UNDEFINED_MARKER, UNSUPPORTED -> {
                    return UNDEFINED;
                }
                case DATE -> {
                    need(10, "date");
                    double millis = in.readDouble();
                    short tz = in.readShort();
                    return new AmfDate(millis, tz);
                }
                case OBJECT_END -> throw new Amf0Exception("unexpected AMF0 object end marker at offset "
                        + (in.readerIndex() - 1));
                case AVMPLUS -> {
                    return Amf3.decode(in, limits, depth);
                }
                default -> throw new Amf0Exception("unsupported AMF0 type marker 0x"
                        + Integer.toHexString(marker) + " at offset " + (in.readerIndex() - 1));
            }
        }

        private void checkDepth(int depth) {
            if (depth + 1 > limits.maxDepth()) {
                throw new Amf0Exception("AMF0 nesting deeper than " + limits.maxDepth());
            }
        }

        private Map<String, Object> properties(int depth, Map<String, Object> map, String what) {
            checkDepth(depth);
            while (true) {
                need(3, what + " property");
                int keyLength = in.readUnsignedShort();
                if (keyLength == 0 && in.getUnsignedByte(in.readerIndex()) == OBJECT_END) {
                    in.skipBytes(1);
                    return map;
                }
                String key = string(keyLength);
                countElement();
                if (map.size() >= limits.maxElements()) {
                    throw new Amf0Exception(what + " with more than " + limits.maxElements() + " entries");
                }
                map.put(key, value(depth + 1));
            }
        }

        private int shortLength() {
            need(2, "string length");
            return in.readUnsignedShort();
        }

        private int longLength() {
            need(4, "long string length");
            long length = in.readUnsignedInt();
            if (length > limits.maxStringBytes()) {
                throw new Amf0Exception("AMF0 string of " + length + " bytes, limit " + limits.maxStringBytes());
            }
            return (int) length;
        }

        private String string(int length) {
            if (length > limits.maxStringBytes()) {
                throw new Amf0Exception("AMF0 string of " + length + " bytes, limit " + limits.maxStringBytes());
            }
            need(length, "string");
            String s = in.toString(in.readerIndex(), length, StandardCharsets.UTF_8);
            in.skipBytes(length);
            return s;
        }
    }

    // ---------------------------------------------------------------- encode

    static void encodeAll(ByteBuf out, List<?> values) {
        for (Object v : values) {
            encode(out, v);
        }
    }

    static void encode(ByteBuf out, Object value) {
        switch (value) {
            case null -> out.writeByte(NULL);
            case Undefined u -> out.writeByte(UNDEFINED_MARKER);
            case Number n -> {
                out.writeByte(NUMBER);
                out.writeDouble(n.doubleValue());
            }
            case Boolean b -> {
                out.writeByte(BOOLEAN);
                out.writeByte(b ? 1 : 0);
            }
            case String s -> {
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                if (bytes.length <= 0xFFFF) {
                    out.writeByte(STRING);
                    out.writeShort(bytes.length);
                } else {
                    out.writeByte(LONG_STRING);
                    out.writeInt(bytes.length);
                }
                out.writeBytes(bytes);
            }
            case EcmaArray a -> {
                out.writeByte(ECMA_ARRAY);
                out.writeInt(a.entries().size());
                writeProperties(out, a.entries());
            }
            case Map<?, ?> m -> {
                out.writeByte(OBJECT);
                writeProperties(out, m);
            }
            case List<?> l -> {
                out.writeByte(STRICT_ARRAY);
                out.writeInt(l.size());
                for (Object o : l) {
                    encode(out, o);
                }
            }
            case AmfDate d -> {
                out.writeByte(DATE);
                out.writeDouble(d.epochMillis());
                out.writeShort(d.timeZone());
            }
            default -> throw new IllegalArgumentException("no AMF0 encoding for " + value.getClass().getName());
        }
    }

    private static void writeProperties(ByteBuf out, Map<?, ?> map) {
        for (Map.Entry<?, ?> e : map.entrySet()) {
            byte[] key = String.valueOf(e.getKey()).getBytes(StandardCharsets.UTF_8);
            if (key.length > 0xFFFF) {
                throw new IllegalArgumentException("AMF0 property name longer than 65535 bytes");
            }
            out.writeShort(key.length);
            out.writeBytes(key);
            encode(out, e.getValue());
        }
        out.writeShort(0);
        out.writeByte(OBJECT_END);
    }
}
