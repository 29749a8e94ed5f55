package dev.ovation.ingest.rtmp;

import io.netty.handler.codec.DecoderException;

/** Malformed, truncated or over-limit AMF0 input. */
final class Amf0Exception extends DecoderException {
    private static final long serialVersionUID = 1L;

    Amf0Exception(String message) {
        super(message);
    }
}
