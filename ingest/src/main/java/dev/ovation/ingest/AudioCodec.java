package dev.ovation.ingest;

/** Audio codecs a publisher may send. AAC is the one every HLS player plays. */
public enum AudioCodec {
    AAC,
    MP3,
    OPUS
}
