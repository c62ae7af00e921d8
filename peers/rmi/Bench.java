// The Java RMI peer of scripts/bench-objects: the same workloads as
// `courier-peers objects-client` (peers/src/objects.rs), on Java RMI over loopback.
//
//   java -Djava.rmi.server.hostname=127.0.0.1 Bench server PORT [WATCH]
//       creates a registry on PORT, binds "echo", prints `ready PORT`; with WATCH > 0
//       prints `collected WATCH at MS` (System.currentTimeMillis) when WATCH objects
//       made by create() have been unreferenced (run with -Djava.rmi.dgc.leaseValue=2000).
//   java -Djava.rmi.server.hostname=127.0.0.1 Bench client PORT SECONDS SERVER_PID [CALLERS]
//       one JSON object per line: empty-seq, empty-64, echo-4k, echo-1m, create+call.
//   java -Djava.rmi.server.hostname=127.0.0.1 Bench holder PORT COUNT
//       obtains COUNT objects with create(), prints `held COUNT`, waits to be killed.

import java.nio.file.Files;
import java.nio.file.Paths;
import java.rmi.Remote;
import java.rmi.RemoteException;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.UnicastRemoteObject;
import java.rmi.server.Unreferenced;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

public class Bench {
    public interface Echo extends Remote {
        void empty() throws RemoteException;
        byte[] echo(byte[] data) throws RemoteException;
        Echo create() throws RemoteException;
    }

    static final AtomicInteger unreferenced = new AtomicInteger();
    static volatile int watch = 0;

    public static class EchoImpl implements Echo, Unreferenced {
        final boolean counted;
        EchoImpl(boolean counted) { this.counted = counted; }
        public void empty() {}
        public byte[] echo(byte[] data) { return data; }
        public Echo create() throws RemoteException {
            EchoImpl o = new EchoImpl(true);
            return (Echo) UnicastRemoteObject.exportObject(o, 0);
        }
        public void unreferenced() {
            if (!counted) return;
            int n = unreferenced.incrementAndGet();
            if (watch > 0 && n == watch) {
                System.out.println("collected " + n + " at " + System.currentTimeMillis());
                System.out.flush();
            }
        }
    }

    static EchoImpl root; // held strongly: the registry's stub does not keep it

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "server": server(args); break;
            case "client": client(args); break;
            case "holder": holder(args); break;
            default: throw new IllegalArgumentException(args[0]);
        }
    }

    static void server(String[] args) throws Exception {
        int port = Integer.parseInt(args[1]);
        if (args.length > 2) watch = Integer.parseInt(args[2]);
        Registry registry = LocateRegistry.createRegistry(port);
        root = new EchoImpl(false);
        Echo stub = (Echo) UnicastRemoteObject.exportObject(root, 0);
        registry.rebind("echo", stub);
        System.out.println("ready " + port);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static Echo lookup(int port) throws Exception {
        return (Echo) LocateRegistry.getRegistry("127.0.0.1", port).lookup("echo");
    }

    static void holder(String[] args) throws Exception {
        Echo echo = lookup(Integer.parseInt(args[1]));
        int count = Integer.parseInt(args[2]);
        List<Echo> held = new ArrayList<>();
        for (int i = 0; i < count; i++) held.add(echo.create());
        System.out.println("held " + held.size());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
        System.out.println(held.size());
    }

    /** CPU time (user + system) of a process from /proc/PID/stat, in nanoseconds. */
    static long procCpuNanos(String pid) throws Exception {
        String stat = new String(Files.readAllBytes(Paths.get("/proc/" + pid + "/stat")));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        return ticks * 10_000_000L; // USER_HZ = 100
    }

    static long selfCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    interface Call { void run() throws Exception; }

    static void measure(String workload, int callers, double seconds, String serverPid, Call call)
            throws Exception {
        long cpu0 = selfCpuNanos() + procCpuNanos(serverPid);
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long[][] lat = new long[callers][];
        int[] counts = new int[callers];
        Exception[] failed = new Exception[1];
        Thread[] threads = new Thread[callers];
        for (int t = 0; t < callers; t++) {
            final int me = t;
            threads[t] = new Thread(() -> {
                long[] mine = new long[1 << 16];
                int n = 0;
                try {
                    while (System.nanoTime() < deadline) {
                        long t0 = System.nanoTime();
                        call.run();
                        if (n == mine.length) mine = Arrays.copyOf(mine, n * 2);
                        mine[n++] = System.nanoTime() - t0;
                    }
                } catch (Exception e) {
                    synchronized (failed) { failed[0] = e; }
                }
                lat[me] = mine;
                counts[me] = n;
            });
            threads[t].start();
        }
        for (Thread t : threads) t.join();
        long elapsed = System.nanoTime() - start;
        long cpu = selfCpuNanos() + procCpuNanos(serverPid) - cpu0;
        if (failed[0] != null) throw failed[0];
        int total = 0;
        for (int c : counts) total += c;
        long[] all = new long[total];
        int i = 0;
        for (int t = 0; t < callers; t++) {
            System.arraycopy(lat[t], 0, all, i, counts[t]);
            i += counts[t];
        }
        Arrays.sort(all);
        double p50 = total == 0 ? 0 : all[(int) ((total - 1) * 0.5)] / 1e3;
        double p99 = total == 0 ? 0 : all[(int) ((total - 1) * 0.99)] / 1e3;
        System.out.printf(java.util.Locale.ROOT,
            "{\"peer\":\"java-rmi\",\"workload\":\"%s\",\"calls\":%d,\"calls_per_second\":%.1f,"
                + "\"p50_us\":%.1f,\"p99_us\":%.1f,\"cpu_us_per_call\":%.2f}%n",
            workload, total, total / (elapsed / 1e9), p50, p99, total == 0 ? 0.0 : cpu / 1e3 / total);
        System.out.flush();
    }

    static void client(String[] args) throws Exception {
        int port = Integer.parseInt(args[1]);
        double seconds = Double.parseDouble(args[2]);
        String serverPid = args[3];
        int callers = args.length > 4 ? Integer.parseInt(args[4]) : 64;
        Echo echo = lookup(port);
        // Warm-up: let the JIT compile the call paths of both sides.
        byte[] small = new byte[4096];
        for (int i = 0; i < 20000; i++) echo.empty();
        for (int i = 0; i < 2000; i++) echo.echo(small);
        for (int i = 0; i < 2000; i++) echo.create().empty();
        measure("empty-seq", 1, seconds, serverPid, echo::empty);
        measure("empty-" + callers, callers, seconds, serverPid, echo::empty);
        byte[] k4 = new byte[4096];
        Arrays.fill(k4, (byte) 0x5a);
        measure("echo-4k", 1, seconds, serverPid, () -> {
            if (echo.echo(k4).length != k4.length) throw new IllegalStateException("short echo");
        });
        byte[] m1 = new byte[1 << 20];
        Arrays.fill(m1, (byte) 0x5a);
        measure("echo-1m", 1, seconds, serverPid, () -> {
            if (echo.echo(m1).length != m1.length) throw new IllegalStateException("short echo");
        });
        measure("create+call", 1, seconds, serverPid, () -> echo.create().empty());
        System.exit(0);
    }
}
