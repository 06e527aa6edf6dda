import { ApiProperty } from '@nestjs/swagger';
import { RegionStatusDto } from '@app/storage';

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
  uptimeSeconds: number;
}

/** Each storage region's state, for DNS / load-balancer failover. */
export class RegionsReportDto {
  /** `ok`: every region up; `degraded`: some down; `down`: none up. */
  @ApiProperty({ enum: ['ok', 'degraded', 'down'] })
  status: 'ok' | 'degraded' | 'down';
  primary: string;
  /** Where new uploads go now (the primary unless it is down). */
  writeRegion: string;
  @ApiProperty({ enum: ['on', 'off'] })
  replication: 'on' | 'off';
  regions: RegionStatusDto[];
}
