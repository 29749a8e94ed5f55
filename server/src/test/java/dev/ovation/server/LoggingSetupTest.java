package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ovation.server.config.OvationConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LoggingSetupTest {

    private static String captureStdout(Runnable action) {
        PrintStream original = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setOut(original);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void jsonFormatWritesOneJsonObjectPerLineAndTextIsReadable() throws Exception {
        try {
            String json = captureStdout(() -> {
                LoggingSetup.apply(OvationConfig.LogFormat.JSON, "INFO");
                LoggerFactory.getLogger("ovation.test").info("hello {}", "json");
                LoggerFactory.getLogger("ovation.test").debug("below the level");
            });
            String[] lines = json.strip().split("\n");
            assertThat(lines).hasSize(1);
            JsonNode line = new ObjectMapper().readTree(lines[0]);
            assertThat(line.get("message").asText()).isEqualTo("hello json");
            assertThat(line.get("level").asText()).isEqualTo("INFO");
            assertThat(line.get("logger_name").asText()).isEqualTo("ovation.test");

            String text = captureStdout(() -> {
                LoggingSetup.apply(OvationConfig.LogFormat.TEXT, "DEBUG");
                LoggerFactory.getLogger("ovation.test").debug("hello {}", "text");
            });
            assertThat(text).contains("DEBUG").contains("ovation.test - hello text").doesNotContain("{\"");
        } finally {
            LoggingSetup.apply(OvationConfig.LogFormat.TEXT, "INFO");
        }
    }
}
