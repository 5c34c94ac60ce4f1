<?php
// Test double of the MISP CLI commands the roles run, with the behaviour they rely on:
//   Admin setSetting NAME VALUE  stores the value in app/Config/config.php ("true"/"false" as
//                                booleans, as AdminShell does); setting Plugin.ZeroMQ_enable runs
//                                the hook (Server::zmqAfterHook) that connects to Redis with
//                                Plugin.ZeroMQ_redis_password, and fails with NOAUTH without it
//   Admin runUpdates             needs the schema
//   User init                    creates the host organisation and the admin, prints the API key
//   start_worker QUEUE           a worker: connects to Redis with the SimpleBackgroundJobs settings
$app = dirname(__DIR__);
$configFile = "$app/Config/config.php";

function settings($file) {
    $config = array();
    include $file;
    return $config;
}

function database() {
    require_once dirname(__DIR__) . '/Config/database.php';
    $db = new DATABASE_CONFIG();
    $c = $db->default;
    return new PDO("mysql:host={$c['host']};port={$c['port']};dbname={$c['database']}", $c['login'], $c['password'],
                   array(PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION));
}

function redis($host, $port, $password) {
    $redis = new Redis();
    $redis->connect($host === 'localhost' ? '127.0.0.1' : $host, (int)$port);
    if ($password !== '') {
        $redis->auth($password);
    }
    $redis->ping();
    return $redis;
}

$args = array_slice($argv, 1);
try {
    if (count($args) === 4 && $args[0] === 'Admin' && $args[1] === 'setSetting') {
        list(, , $name, $value) = $args;
        list($section, $key) = explode('.', $name, 2);
        $config = settings($configFile);
        $config[$section][$key] = $value === 'true' ? true : ($value === 'false' ? false : $value);
        if ($name === 'Plugin.ZeroMQ_enable' && $value === 'true') {
            $plugin = $config['Plugin'];
            redis($plugin['ZeroMQ_redis_host'] ?? 'localhost', $plugin['ZeroMQ_redis_port'] ?? 6379,
                  $plugin['ZeroMQ_redis_password'] ?? '');
        }
        file_put_contents($configFile, "<?php\n\$config = " . var_export($config, true) . ";\n");
        echo "Setting \"$name\" changed to $value\n";
    } elseif ($args === array('Admin', 'runUpdates')) {
        database()->query('SELECT COUNT(*) FROM users');
        echo "All updates done.\n";
    } elseif ($args === array('User', 'init')) {
        $db = database();
        if ($db->query('SELECT COUNT(*) FROM users')->fetchColumn() > 0) {
            echo "Script aborted: MISP instance already initialised.\n";
            exit(1);
        }
        $key = bin2hex(random_bytes(20));
        $db->exec("INSERT INTO organisations (id, name, uuid) VALUES (1, 'ORGNAME', '" . sprintf('%04x%04x-%04x-4%03x-a%03x-%04x%04x%04x', ...array_map(fn($n) => random_int(0, $n), [65535, 65535, 65535, 4095, 4095, 65535, 65535, 65535])) . "')");
        $db->prepare('INSERT INTO users (org_id, email, authkey) VALUES (1, ?, ?)')->execute(array('admin@admin.test', $key));
        echo "$key\n";
    } elseif (count($args) === 2 && $args[0] === 'start_worker') {
        $jobs = settings($configFile)['SimpleBackgroundJobs'];
        $redis = redis($jobs['redis_host'], $jobs['redis_port'], $jobs['redis_password']);
        while (true) {
            sleep(5);
            $redis->ping();
        }
    } else {
        echo "Invalid parameters.\n";
        exit(1);
    }
} catch (Exception $e) {
    echo get_class($e) . ': ' . $e->getMessage() . "\n";
    exit(1);
}
