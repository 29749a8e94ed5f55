package dev.ovation.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** README.md's configuration reference cannot drift from config/ovation.conf. */
class ConfigReferenceTest {

    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

    @Test
    void everyKeyTheLoaderKnowsIsDocumented() throws IOException {
        List<ConfigReference.Entry> entries = ConfigReference.parse(ConfigReference.packagedDefaults());
        assertThat(entries).extracting(ConfigReference.Entry::key)
                .containsExactlyInAnyOrderElementsOf(new ConfigLoader().keys());
        assertThat(entries).allSatisfy(e -> assertThat(e.description()).isNotBlank());
    }

    @Test
    void readmeShowsTheReferenceGeneratedFromTheConfigFile() throws IOException {
        String conf = Files.readString(REPO.resolve("config/ovation.conf"));
        String readme = Files.readString(REPO.resolve("README.md"));
        String expected = ConfigReference.markdown(ConfigReference.parse(conf));
        assertThat(readme)
                .as("README.md's configuration reference is stale: run scripts/config-doc")
                .contains(expected);
    }

    @Test
    void aKeyWithoutACommentIsRejected() {
        assertThatThrownBy(() -> ConfigReference.parse("# doc\na.b = 1\n\nc.d = 2\n"))
                .hasMessageContaining("'c.d' has no comment");
        assertThat(ConfigReference.parse("# one\n# two\na.b = 1\n"))
                .containsExactly(new ConfigReference.Entry("a.b", "1", "one two"));
    }
}
