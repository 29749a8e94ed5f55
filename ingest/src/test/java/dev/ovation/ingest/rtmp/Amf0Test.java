package dev.ovation.ingest.rtmp;

import static dev.ovation.ingest.rtmp.Bytes.buf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class Amf0Test {

    private static Object decodeOne(String hex) {
        ByteBuf in = buf(hex);
        Object v = Amf0.decode(in, Amf0.Limits.DEFAULT);
        assertThat(in.isReadable()).as("all bytes consumed").isFalse();
        return v;
    }

    private static String encode(Object v) {
        ByteBuf out = Unpooled.buffer();
        Amf0.encode(out, v);
        return Bytes.hex(out);
    }

    @Test
    void scalars() {
        assertThat(decodeOne("00 40 59 00 00 00 00 00 00")).isEqualTo(100.0);
        assertThat(decodeOne("01 01")).isEqualTo(true);
        assertThat(decodeOne("01 00")).isEqualTo(false);
        assertThat(decodeOne("02 00 04 6c 69 76 65")).isEqualTo("live");
        assertThat(decodeOne("0c 00 00 00 02 c3 a9")).isEqualTo("\u00e9");
        assertThat(decodeOne("05")).isNull();
        assertThat(decodeOne("06")).isEqualTo(Amf0.UNDEFINED);
        assertThat(decodeOne("0b 42 71 00 00 00 00 00 00 00 00"))
                .isEqualTo(new Amf0.AmfDate(Double.longBitsToDouble(0x4271000000000000L), (short) 0));
    }

    @Test
    void encodesScalarsToTheSameBytes() {
        assertThat(encode(100.0)).isEqualTo("004059000000000000");
        assertThat(encode(1)).isEqualTo("003ff0000000000000");
        assertThat(encode(true)).isEqualTo("0101");
        assertThat(encode("live")).isEqualTo("0200046c697665");
        assertThat(encode(null)).isEqualTo("05");
        assertThat(encode(Amf0.UNDEFINED)).isEqualTo("06");
        assertThat(encode(new Amf0.AmfDate(0, (short) 0))).isEqualTo("0b00000000000000000000");
    }

    @Test
    void longStringEncodesWithFourByteLength() {
        String s = "x".repeat(70_000);
        ByteBuf out = Unpooled.buffer();
        Amf0.encode(out, s);
        assertThat(out.getByte(0)).isEqualTo((byte) 0x0C);
        assertThat(out.getInt(1)).isEqualTo(70_000);
        assertThat(Amf0.decode(out, new Amf0.Limits(4, 100_000, 10))).isEqualTo(s);
    }

    @Test
    void objectEcmaArrayAndStrictArray() {
        // {app:"live", n:1} ; ECMA array [duration:0] ; strict array [1, null]
        String object = "03 0003 617070 02 0004 6c697665  0001 6e 00 3ff0000000000000  0000 09";
        String ecma = "08 00000001 0008 6475726174696f6e 00 0000000000000000 0000 09";
        String strict = "0a 00000002 00 3ff0000000000000 05";
        Map<String, Object> expectedObject = new LinkedHashMap<>();
        expectedObject.put("app", "live");
        expectedObject.put("n", 1.0);
        assertThat(decodeOne(object)).isEqualTo(expectedObject);
        assertThat(decodeOne(ecma)).isEqualTo(new Amf0.EcmaArray(Map.of("duration", 0.0)));
        assertThat(decodeOne(strict)).isEqualTo(Arrays.asList(1.0, null));

        assertThat(encode(expectedObject)).isEqualTo(Bytes.hex(buf(object)));
        assertThat(encode(new Amf0.EcmaArray(Map.of("duration", 0.0)))).isEqualTo(Bytes.hex(buf(ecma)));
        assertThat(encode(Arrays.asList(1.0, null))).isEqualTo(Bytes.hex(buf(strict)));
    }

    @Test
    void decodesAllValuesOfACommandInOrder() {
        ByteBuf in = buf("02 0007 636f6e6e656374 00 3ff0000000000000 05 02 0001 61");
        assertThat(Amf0.decodeAll(in, Amf0.Limits.DEFAULT)).containsExactly("connect", 1.0, null, "a");
    }

    @Test
    void nestedRoundTrip() {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("list", Arrays.asList("a", 2.0, false, null, Amf0.UNDEFINED));
        inner.put("arr", new Amf0.EcmaArray(new LinkedHashMap<>(Map.of("k", "v"))));
        Map<String, Object> outer = new LinkedHashMap<>();
        outer.put("inner", inner);
        outer.put("date", new Amf0.AmfDate(1.7e12, (short) 0));
        ByteBuf out = Unpooled.buffer();
        Amf0.encode(out, outer);
        assertThat(Amf0.decode(out, Amf0.Limits.DEFAULT)).isEqualTo(outer);
    }

    @Test
    void truncatedInputIsAClearError() {
        assertThatThrownBy(() -> decodeOne("00 40 59 00")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("truncated AMF0 number");
        assertThatThrownBy(() -> decodeOne("02 00 09 6c 69")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("truncated AMF0 string");
        assertThatThrownBy(() -> decodeOne("03 0003 617070 02 0004 6c69")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> decodeOne("03 0001 61 05")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("truncated AMF0 object property");
        assertThatThrownBy(() -> decodeOne("")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("type marker");
    }

    @Test
    void unknownAndMisplacedMarkersAreErrors() {
        assertThatThrownBy(() -> decodeOne("42")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("unsupported AMF0 type marker 0x42");
        assertThatThrownBy(() -> decodeOne("09")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("object end");
        assertThatThrownBy(() -> decodeOne("11 04")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("truncated AMF3 integer");
    }

    @Test
    void amf3ValuesAfterTheAvmPlusMarker() {
        assertThat(decodeOne("11 04 7f")).isEqualTo(127.0);
        assertThat(decodeOne("11 04 81 00")).isEqualTo(128.0);
        assertThat(decodeOne("11 04 ff ff ff ff")).isEqualTo(-1.0);
        assertThat(decodeOne("11 05 3ff0000000000000")).isEqualTo(1.0);
        assertThat(decodeOne("11 03")).isEqualTo(true);
        assertThat(decodeOne("11 01")).isNull();
        assertThat(decodeOne("11 00")).isEqualTo(Amf0.UNDEFINED);
        assertThat(decodeOne("11 06 0b 68656c6c6f")).isEqualTo("hello");
        // dynamic anonymous object {a: 1}
        assertThat(decodeOne("11 0a 0b 01 03 61 04 01 01")).isEqualTo(Map.of("a", 1.0));
        // sealed typed object with one member x = "y", then a traits reference for a second instance
        assertThat(decodeOne("11 09 05 01 0a 13 03 54 03 78 06 03 79 0a 01 06 04"))
                .isEqualTo(List.of(Map.of("x", "y"), Map.of("x", "y")));
        // dense array [1, 2]; string reference: ["x", "x"]
        assertThat(decodeOne("11 09 05 01 04 01 04 02")).isEqualTo(List.of(1.0, 2.0));
        assertThat(decodeOne("11 09 05 01 06 03 78 06 00")).isEqualTo(List.of("x", "x"));
        // byte array
        assertThat((byte[]) decodeOne("11 0c 05 cafe")).containsExactly(0xca, 0xfe);
    }

    @Test
    void amf3ErrorsAndLimits() {
        assertThatThrownBy(() -> decodeOne("11 0a 07 01")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("externalizable");
        assertThatThrownBy(() -> decodeOne("11 06 02")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("string reference 1 out of range");
        assertThatThrownBy(() -> decodeOne("11 0e")).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("unsupported AMF3 type marker 0xe");
        Amf0.Limits tight = new Amf0.Limits(2, 8, 16);
        assertThatThrownBy(() -> Amf0.decode(buf("11 09 03 01 09 03 01 09 01 01"), tight))
                .isInstanceOf(Amf0Exception.class).hasMessageContaining("nesting deeper than 2");
        assertThatThrownBy(() -> Amf0.decode(buf("11 06 13 616161616161616161"), tight))
                .isInstanceOf(Amf0Exception.class).hasMessageContaining("limit 8");
        assertThatThrownBy(() -> Amf0.decode(buf("11 09 ff ff ff 01 01"), tight))
                .isInstanceOf(Amf0Exception.class).hasMessageContaining("limit 16");
    }

    @Test
    void limitsOnDepthStringLengthAndElements() {
        Amf0.Limits tight = new Amf0.Limits(2, 8, 3);
        // depth 3: {a:{b:{}}}
        ByteBuf deep = buf("03 0001 61 03 0001 62 03 0000 09 0000 09 0000 09");
        assertThatThrownBy(() -> Amf0.decode(deep, tight)).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("nesting deeper than 2");
        ByteBuf longString = buf("02 0009 616161616161616161");
        assertThatThrownBy(() -> Amf0.decode(longString, tight)).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("limit 8");
        ByteBuf hugeLongString = buf("0c 7fffffff 61");
        assertThatThrownBy(() -> Amf0.decode(hugeLongString, tight)).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("limit 8");
        ByteBuf bigArray = buf("0a ffffffff");
        assertThatThrownBy(() -> Amf0.decode(bigArray, tight)).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("strict array of 4294967295 elements");
        ByteBuf manyValues = buf("05 05 05 05");
        assertThatThrownBy(() -> Amf0.decodeAll(manyValues, tight)).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("more than 3");
        ByteBuf manyProps = buf("03 0001 61 05 0001 62 05 0001 63 05 0001 64 05 0000 09");
        assertThatThrownBy(() -> Amf0.decode(manyProps, tight)).isInstanceOf(Amf0Exception.class)
                .hasMessageContaining("more than 3");
    }

    @Test
    void ffmpegConnectCommandDecodes() {
        // The AMF body of the connect command ffmpeg 5.1 sends (from fixtures/ffmpeg-connect-chunks.bin,
        // with the 12-byte chunk header and the type-3 header at offset 128 removed).
        byte[] chunks = Bytes.resource("ffmpeg-connect-chunks.bin");
        ByteBuf body = Unpooled.buffer();
        body.writeBytes(chunks, 12, 128);
        body.writeBytes(chunks, 12 + 128 + 1, 140 - 128);
        List<Object> values = Amf0.decodeAll(body, Amf0.Limits.DEFAULT);
        assertThat(values).hasSize(3);
        assertThat(values.get(0)).isEqualTo("connect");
        assertThat(values.get(1)).isEqualTo(1.0);
        @SuppressWarnings("unchecked")
        Map<String, Object> props = (Map<String, Object>) values.get(2);
        assertThat(props).containsEntry("app", "live").containsEntry("type", "nonprivate")
                .containsEntry("tcUrl", "rtmp://127.0.0.1:19356/live");
        assertThat((String) props.get("flashVer")).startsWith("FMLE/3.0");
    }
}
