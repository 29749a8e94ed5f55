package dev.ovation.server;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import dev.ovation.server.config.OvationConfig;
import java.net.URL;
import org.slf4j.LoggerFactory;

/** Applies log.format and log.level to Logback by re-reading logback.xml with those two properties set. */
final class LoggingSetup {

    private LoggingSetup() {}

    static void apply(OvationConfig.LogFormat format, String level) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return; // another SLF4J backend is bound (e.g. in an embedding application): leave it alone
        }
        URL xml = LoggingSetup.class.getClassLoader().getResource("logback.xml");
        if (xml == null) {
            return;
        }
        context.reset();
        context.putProperty("ovation.log.appender", format == OvationConfig.LogFormat.JSON ? "JSON" : "TEXT");
        context.putProperty("ovation.log.level", level);
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        try {
            configurator.doConfigure(xml);
        } catch (JoranException e) {
            throw new IllegalStateException("logback.xml cannot be applied", e);
        }
    }
}
