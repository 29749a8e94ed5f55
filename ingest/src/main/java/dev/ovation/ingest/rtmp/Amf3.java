package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AMF3 values, decoded where a client switches to them inside AMF0 (the AVM+ marker 0x11), which
 * Flash-era clients with objectEncoding 3 do. Mapped to the same Java types as {@link Amf0}:
 * integers and doubles to {@link Double}, strings (and XML) to {@link String}, dates to
 * {@link Amf0.AmfDate}, arrays to {@link List} (dense only) or {@link Map} (with associative
 * entries), objects to {@link Map}, byte arrays to {@code byte[]}. Externalizable objects, vectors
 * and dictionaries are refused. Reference tables are per top-level value, bounded by the limits.
 */
final class Amf3 {

    static final int UNDEFINED = 0x00;
    static final int NULL = 0x01;
    static final int FALSE = 0x02;
    static final int TRUE = 0x03;
    static final int INTEGER = 0x04;
    static final int DOUBLE = 0x05;
    static final int STRING = 0x06;
    static final int XML_DOC = 0x07;
    static final int DATE = 0x08;
    static final int ARRAY = 0x09;
    static final int OBJECT = 0x0A;
    static final int XML = 0x0B;
    static final int BYTE_ARRAY = 0x0C;

    private record Traits(String className, boolean dynamic, List<String> sealedNames) {}

    private final ByteBuf in;
    private final Amf0.Limits limits;
    private final List<String> strings = new ArrayList<>();
    private final List<Object> objects = new ArrayList<>();
    private final List<Traits> traits = new ArrayList<>();
    private int elements;

    private Amf3(ByteBuf in, Amf0.Limits limits) {
        this.in = in;
        this.limits = limits;
    }

    /** Decodes one AMF3 value (the AVM+ marker already consumed). */
    static Object decode(ByteBuf in, Amf0.Limits limits, int depth) {
        return new Amf3(in, limits).value(depth);
    }

    private void need(int n, String what) {
        if (in.readableBytes() < n) {
            throw new Amf0Exception("truncated AMF3 " + what + ": need " + n + " bytes, have " + in.readableBytes());
        }
    }

    private void count() {
        if (++elements > limits.maxElements()) {
            throw new Amf0Exception("more than " + limits.maxElements() + " AMF3 values");
        }
    }

    private void checkDepth(int depth) {
        if (depth + 1 > limits.maxDepth()) {
            throw new Amf0Exception("AMF3 nesting deeper than " + limits.maxDepth());
        }
    }

    /** U29: 1-4 bytes, 7 bits each except the fourth (8 bits). */
    int u29() {
        int result = 0;
        for (int i = 0; i < 4; i++) {
            need(1, "integer");
            int b = in.readUnsignedByte();
            if (i == 3) {
                return (result << 8) | b;
            }
            result = (result << 7) | (b & 0x7F);
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        return result;
    }

    private Object value(int depth) {
        need(1, "type marker");
        int marker = in.readUnsignedByte();
        count();
        return switch (marker) {
            case UNDEFINED -> Amf0.UNDEFINED;
            case NULL -> null;
            case FALSE -> Boolean.FALSE;
            case TRUE -> Boolean.TRUE;
            case INTEGER -> (double) ((u29() << 3) >> 3); // sign-extend 29 bits
            case DOUBLE -> {
                need(8, "double");
                yield in.readDouble();
            }
            case STRING -> string();
            case XML_DOC, XML -> {
                int ref = u29();
                if ((ref & 1) == 0) {
                    yield object(ref >>> 1);
                }
                String s = utf8(ref >>> 1);
                objects.add(s);
                yield s;
            }
            case DATE -> {
                int ref = u29();
                if ((ref & 1) == 0) {
                    yield object(ref >>> 1);
                }
                need(8, "date");
                Amf0.AmfDate d = new Amf0.AmfDate(in.readDouble(), (short) 0);
                objects.add(d);
                yield d;
            }
            case ARRAY -> array(depth);
            case OBJECT -> objectValue(depth);
            case BYTE_ARRAY -> {
                int ref = u29();
                if ((ref & 1) == 0) {
                    yield object(ref >>> 1);
                }
                int length = ref >>> 1;
                if (length > limits.maxStringBytes()) {
                    throw new Amf0Exception("AMF3 byte array of " + length + " bytes, limit " + limits.maxStringBytes());
                }
                need(length, "byte array");
                byte[] bytes = new byte[length];
                in.readBytes(bytes);
                objects.add(bytes);
                yield bytes;
            }
            default -> throw new Amf0Exception("unsupported AMF3 type marker 0x" + Integer.toHexString(marker));
        };
    }

    private Object object(int index) {
        if (index >= objects.size()) {
            throw new Amf0Exception("AMF3 object reference " + index + " out of range");
        }
        return objects.get(index);
    }

    private String string() {
        int ref = u29();
        if ((ref & 1) == 0) {
            int index = ref >>> 1;
            if (index >= strings.size()) {
                throw new Amf0Exception("AMF3 string reference " + index + " out of range");
            }
            return strings.get(index);
        }
        String s = utf8(ref >>> 1);
        if (!s.isEmpty()) {
            strings.add(s);
        }
        return s;
    }

    private String utf8(int length) {
        if (length > limits.maxStringBytes()) {
            throw new Amf0Exception("AMF3 string of " + length + " bytes, limit " + limits.maxStringBytes());
        }
        need(length, "string");
        String s = in.toString(in.readerIndex(), length, StandardCharsets.UTF_8);
        in.skipBytes(length);
        return s;
    }

    private Object array(int depth) {
        int ref = u29();
        if ((ref & 1) == 0) {
            return object(ref >>> 1);
        }
        checkDepth(depth);
        int dense = ref >>> 1;
        if (dense > limits.maxElements()) {
            throw new Amf0Exception("AMF3 array of " + dense + " elements, limit " + limits.maxElements());
        }
        Map<String, Object> assoc = new LinkedHashMap<>();
        int slot = objects.size();
        objects.add(assoc);
        while (true) {
            String key = string();
            if (key.isEmpty()) {
                break;
            }
            assoc.put(key, value(depth + 1));
        }
        List<Object> list = new ArrayList<>(dense);
        for (int i = 0; i < dense; i++) {
            list.add(value(depth + 1));
        }
        if (assoc.isEmpty()) {
            objects.set(slot, list);
            return list;
        }
        for (int i = 0; i < list.size(); i++) {
            assoc.put(Integer.toString(i), list.get(i));
        }
        return assoc;
    }

    private Map<String, Object> objectValue(int depth) {
        int ref = u29();
        if ((ref & 1) == 0) {
            Object o = object(ref >>> 1);
            if (o instanceof Map<?, ?>) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) o;
                return m;
            }
            throw new Amf0Exception("AMF3 object reference to a non-object");
        }
        checkDepth(depth);
        Traits t;
        if ((ref & 2) == 0) {
            int index = ref >>> 2;
            if (index >= traits.size()) {
                throw new Amf0Exception("AMF3 traits reference " + index + " out of range");
            }
            t = traits.get(index);
        } else {
            if ((ref & 4) != 0) {
                throw new Amf0Exception("AMF3 externalizable objects are not supported");
            }
            boolean dynamic = (ref & 8) != 0;
            int sealedCount = ref >>> 4;
            if (sealedCount > limits.maxElements()) {
                throw new Amf0Exception("AMF3 traits with " + sealedCount + " members, limit " + limits.maxElements());
            }
            String className = string();
            List<String> names = new ArrayList<>(sealedCount);
            for (int i = 0; i < sealedCount; i++) {
                names.add(string());
            }
            t = new Traits(className, dynamic, names);
            traits.add(t);
        }
        Map<String, Object> map = new LinkedHashMap<>();
        objects.add(map);
        for (String name : t.sealedNames()) {
            map.put(name, value(depth + 1));
        }
        if (t.dynamic()) {
            while (true) {
                String key = string();
                if (key.isEmpty()) {
                    break;
                }
                count();
                map.put(key, value(depth + 1));
            }
        }
        return map;
    }
}
