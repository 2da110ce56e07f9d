/* sensor.h -- `osrca sensor`: capture and parse on one host, publish the
 * decoded events (evwire.h) to the bus (Redis Streams) or a stream file
 * for a correlator (README "Sensors and the correlator"). */
#ifndef OSRCA_SENSOR_H
#define OSRCA_SENSOR_H

/* The command: 0 on success, 1 runtime failure, 2 usage. */
int cmd_sensor(int argc, char **argv);

#endif
