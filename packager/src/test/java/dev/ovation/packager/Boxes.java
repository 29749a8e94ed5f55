package dev.ovation.packager;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** A minimal ISO BMFF reader for tests: walks boxes and checks that every size adds up. */
record Boxes(byte[] data) {
    record Box(String type, int start, int size, int payload) {
        int end() {
            return start + size;
        }
    }

    private static final Set<String> CONTAINERS = Set.of("moov", "trak", "mdia", "minf", "stbl", "dinf", "mvex",
            "moof", "traf");

    /** Children of the range [from, to): throws when a size is inconsistent. */
    List<Box> children(int from, int to) {
        List<Box> out = new ArrayList<>();
        int pos = from;
        while (pos < to) {
            if (pos + 8 > to) {
                throw new AssertionError("truncated box header at " + pos);
            }
            int size = u32(pos);
            String type = new String(data, pos + 4, 4, StandardCharsets.US_ASCII);
            if (size < 8 || pos + size > to) {
                throw new AssertionError("box " + type + " at " + pos + " has bad size " + size);
            }
            out.add(new Box(type, pos, size, pos + 8));
            pos += size;
        }
        return out;
    }

    List<Box> top() {
        return children(0, data.length);
    }

    List<Box> children(Box b) {
        int payload = switch (b.type()) {
            case "stsd", "dref" -> b.payload() + 8;
            case "avc1", "hvc1", "av01" -> b.payload() + 78;
            case "mp4a" -> b.payload() + 28;
            default -> {
                if (!CONTAINERS.contains(b.type())) {
                    throw new AssertionError(b.type() + " is not a container");
                }
                yield b.payload();
            }
        };
        return children(payload, b.end());
    }

    /** Follows a path such as {@code moov/trak/mdia/mdhd}, taking the first match at each level. */
    Box find(String path) {
        return find(top(), path);
    }

    Box find(List<Box> level, String path) {
        String[] names = path.split("/");
        Box current = null;
        for (String name : names) {
            current = level.stream().filter(b -> b.type().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + name + " in " + path));
            if (!name.equals(names[names.length - 1])) {
                level = children(current);
            }
        }
        return current;
    }

    List<Box> all(List<Box> level, String type) {
        return level.stream().filter(b -> b.type().equals(type)).toList();
    }

    int u8(int pos) {
        return data[pos] & 0xFF;
    }

    int u16(int pos) {
        return ((data[pos] & 0xFF) << 8) | (data[pos + 1] & 0xFF);
    }

    int u24(int pos) {
        return (u8(pos) << 16) | u16(pos + 1);
    }

    int u32(int pos) {
        return ByteBuffer.wrap(data, pos, 4).getInt();
    }

    long u64(int pos) {
        return ByteBuffer.wrap(data, pos, 8).getLong();
    }

    String fourcc(int pos) {
        return new String(data, pos, 4, StandardCharsets.US_ASCII);
    }

    byte[] bytes(int pos, int n) {
        return java.util.Arrays.copyOfRange(data, pos, pos + n);
    }
}
